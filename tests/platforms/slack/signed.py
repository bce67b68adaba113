"""Signed Slack requests (slash commands, Events API callbacks), built the way Slack signs them and the way
bolt's own tests feed them to ``AsyncApp.async_dispatch``."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from tests.platforms.slack.conftest import CHANNEL, SIGNING_SECRET
from tests.platforms.slack.fake_api import BOT_USER, TEAM

_EVENT_IDS = itertools.count(1)


def sign(body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"x-slack-request-timestamp": ts, "x-slack-signature": signature}


def command_body(text: str, *, user: str = "U0MEMBER1", channel: str = CHANNEL, response_url: str = "") -> str:
    return urlencode({
        "token": "legacy-unused", "team_id": TEAM, "team_domain": "team", "channel_id": channel,
        "channel_name": "papers", "user_id": user, "user_name": user.lower(), "command": "/paper", "text": text,
        "api_app_id": "A0PAPERBOT", "is_enterprise_install": "false", "response_url": response_url,
        "trigger_id": "1.2.3",
    })  # fmt: skip


def command_request(text: str, **kwargs: Any) -> AsyncBoltRequest:
    body = command_body(text, **kwargs)
    headers = {"content-type": "application/x-www-form-urlencoded", **sign(body)}
    return AsyncBoltRequest(body=body, headers={k: [v] for k, v in headers.items()})


def reaction_body(
    kind: str, *, ts: str, user: str = "U0MEMBER1", reaction: str = "thumbsup", channel: str = CHANNEL,
    event_id: str | None = None,
) -> str:  # fmt: skip
    event = {"type": kind, "user": user, "reaction": reaction, "item_user": BOT_USER,
             "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": f"{time.time():.6f}"}  # fmt: skip
    return json.dumps({
        "token": "legacy-unused", "team_id": TEAM, "api_app_id": "A0PAPERBOT", "event": event,
        "type": "event_callback", "event_id": event_id or f"Ev{next(_EVENT_IDS):08d}",
        "event_time": int(time.time()), "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    })  # fmt: skip


def event_request(body: str, *, retry: int = 0) -> AsyncBoltRequest:
    headers = {"content-type": "application/json", **sign(body)}
    if retry:
        headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
    return AsyncBoltRequest(body=body, headers={k: [v] for k, v in headers.items()})
