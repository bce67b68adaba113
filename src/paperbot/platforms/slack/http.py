"""HTTP mode: bolt's aiohttp adapter on ``/slack/events``, requests verified (HMAC signature, 5-minute window).

It needs the signing secret and cannot be served without it; nothing here can switch the verification off.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from paperbot.errors import ConfigError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


@web.middleware
async def reject_malformed_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse what bolt would answer with a 500 and an ERROR traceback, before bolt sees it.

    - a request timestamp that is not a number: 401 (bolt's verifier would crash on ``int()``);
    - a body bolt cannot even turn into a request (not UTF-8, broken JSON, a ``payload`` that is not an object):
      400 and one WARNING line. bolt's aiohttp adapter builds its ``AsyncBoltRequest`` — parsing the body and its
      context — *before* it verifies the signature, so any unsigned garbage reached that code. The same
      constructor is tried here, so what counts as malformed is exactly what bolt cannot parse.
    """
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    if timestamp is not None and not (timestamp.strip().isascii() and timestamp.strip().isdigit()):
        return web.json_response({"error": "invalid request"}, status=401)
    if request.method == "POST":
        try:
            AsyncBoltRequest(
                body=await request.text(),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]  # as bolt's aiohttp adapter passes them
            )
        except Exception as exc:  # whatever bolt's parser raises on this body, it would have been a 500
            log.warning(
                "slack http: malformed request refused",
                extra={"error": type(exc).__name__, "bytes": request.content_length, "path": request.path},
            )
            return web.json_response({"error": "malformed request"}, status=400)
    response: web.StreamResponse = await handler(request)
    return response


def web_app(app: AsyncApp, signing_secret: str) -> web.Application:
    """The aiohttp application of HTTP mode (bolt's adapter, requests verified)."""
    if not signing_secret:  # never serve HTTP without verifying requests
        raise ConfigError("HTTP mode needs PAPERBOT_SLACK_SIGNING_SECRET", key="PAPERBOT_SLACK_SIGNING_SECRET")
    application = app.web_app(path=EVENTS_PATH)
    application.middlewares.append(reject_malformed_requests)
    return application


async def serve_http(app: AsyncApp, signing_secret: str, host: str, port: int) -> web.AppRunner:
    """Start HTTP mode on ``host:port`` and return the runner (``await runner.cleanup()`` stops it)."""
    runner = web.AppRunner(web_app(app, signing_secret))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner
