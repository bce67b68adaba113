"""Serving an aiohttp application inside a running event loop until cancelled (``paperbot web``, ``paperbot run``).

No signal handlers (the caller owns SIGTERM), and an access log without query strings: a ``?token=`` never reaches
a log line, and requests are logged at DEBUG only.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

logger = logging.getLogger("paperbot.web")


class PathOnlyAccessLogger(AbstractAccessLogger):
    """One DEBUG line per request: method, path (never the query), status, milliseconds."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug("%s %s %d %.1f ms", request.method, request.path, response.status, time * 1000)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port, read it back with ``getsockname``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(
    app: web.Application,
    sock: socket.socket,
    *,
    on_ready: Callable[[str, int], None] | None = None,
) -> None:
    """Serve ``app`` on the bound ``sock`` until cancelled, then close every connection."""
    runner = web.AppRunner(
        app, access_log_class=PathOnlyAccessLogger, access_log=logger, handle_signals=False, shutdown_timeout=2.0
    )
    await runner.setup()
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        host, port = sock.getsockname()[:2]
        logger.info("web archive on http://%s:%d/", f"[{host}]" if ":" in host else host, port)
        if on_ready is not None:
            on_ready(host, port)
        # What the process holds by now (modules, SQLAlchemy, aiohttp, Jinja2: about 100,000 objects) lives as long
        # as it does. Out of the collector's oldest generation, a full collection no longer walks it: on the
        # shared 2-CPU machine that walk took 60-75 ms, a stall of whichever page was being served.
        gc.collect()
        gc.freeze()
        await asyncio.Event().wait()
    finally:
        gc.unfreeze()  # back to the oldest generation: collectable again once the server is gone
        await runner.cleanup()
