"""``paperbot web``: the web archive on its own (``paperbot run`` serves the same pages on PAPERBOT_HTTP_PORT)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, run_app, settings_for

if TYPE_CHECKING:
    from paperbot.bootstrap import App

DEFAULT_PORT = 8080


@click.command()
@click.option("--host", default=None, help="Address to bind (default: PAPERBOT_HTTP_HOST, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help=f"Port (default: PAPERBOT_HTTP_PORT, else {DEFAULT_PORT}; 0 picks a free one).",
)
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None) -> None:
    """웹 아카이브를 띄웁니다: 날짜별 전체 논문, 주간 베스트, 검색, 팀 투표, 출처 상태 (읽기 전용).

    \b
    Binds 127.0.0.1 unless told otherwise. PAPERBOT_WEB_TOKEN makes it private: send
    "Authorization: Bearer <token>", or open any page once with ?token=<token> (a cookie remembers it).
    Example: paperbot web --port 8080, then open http://127.0.0.1:8080/
    """
    from paperbot.web.server import bind

    settings = settings_for(ctx)

    bind_host = host or settings.http_host
    bind_port = port if port is not None else (settings.http_port or DEFAULT_PORT)
    try:
        sock = bind(bind_host, bind_port)
    except OSError as exc:
        fail(f"{bind_host}:{bind_port} 에서 열 수 없습니다: {exc.strerror or exc}", code=1)
    run_app(ctx, lambda app: _serve(app, sock))


async def _serve(app: App, sock: socket.socket) -> None:
    import signal

    from paperbot.service.search import warm_up
    from paperbot.web.server import serve

    loop = asyncio.get_running_loop()

    async def healthz() -> tuple[str, bytes]:
        return "application/json", json.dumps({"status": "ok"}).encode()

    def ready(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"웹 아카이브: http://{shown}:{port}/ (멈추려면 Ctrl+C)", err=True)

    task = asyncio.ensure_future(serve(app.web_app(extra={"/healthz": healthz}), sock, on_ready=ready))
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    warming = asyncio.ensure_future(warm_up())  # the Korean analyser, before the first search needs it
    try:
        await task
    except asyncio.CancelledError:
        click.echo("웹 아카이브를 멈췄습니다.", err=True)
    finally:
        warming.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
