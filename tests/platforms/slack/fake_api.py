"""A local fake of the Slack Web API (aiohttp.web on 127.0.0.1), recording every call.

It serves what paperbot uses: ``auth.test``, ``chat.postMessage`` (metadata, threads), ``conversations.history``
(top-level messages only, metadata only with ``include_all_metadata``), ``conversations.replies``,
``reactions.get`` / ``reactions.add``, ``users.info``, response URLs (``/respond/…``) for slash commands, and
Socket Mode (``apps.connections.open`` and its websocket, envelopes in, acknowledgements out).
Failures are queued per method: 429 with ``Retry-After``, ``ratelimited``, ``fatal_error`` (optionally after
posting: a lost answer), ``msg_too_long`` and any other error code.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-app-token"
BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM = "T0TEAM001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Failure:
    error: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Apply the request (e.g. post the message) before failing: a lost answer.
    apply_first: bool = False


@dataclass
class FakeMessage:
    ts: str
    user: str
    text: str
    blocks: list[Any]
    metadata: dict[str, Any] | None
    thread_ts: str | None
    #: reaction name → ordered user ids
    reactions: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self, *, metadata: bool, replies: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text,
                                "blocks": self.blocks}  # fmt: skip
        if self.user == BOT_USER:
            data["bot_id"] = BOT_ID
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if replies:
            data["thread_ts"] = self.ts
            data["reply_count"] = replies
        if metadata and self.metadata:
            data["metadata"] = self.metadata
        if any(self.reactions.values()):
            data["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
                if users
            ]
        return data


async def _params(request: web.Request) -> dict[str, Any]:
    """Query, form and JSON arguments merged (the SDK sends some methods as JSON, others as forms)."""
    params: dict[str, Any] = dict(request.query)
    raw = await request.read()
    if raw:
        if request.content_type == "application/json":
            params.update(json.loads(raw))
        else:
            params.update(dict(parse_qsl(raw.decode())))
    return params


def _as_bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


class FakeSlack:
    """State and handlers of the fake API. ``base`` is the value for PAPERBOT_SLACK_API_BASE."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # bodies POSTed to response URLs (and taken)
        self.refused: list[dict[str, Any]] = []  # bodies a response URL refused
        self.channels: dict[str, list[FakeMessage]] = {}
        self.failures: dict[str, list[Failure | None]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.gone_channels: set[str] = set()
        #: Channels the bot is not a member of: ``chat.postMessage`` answers ``not_in_channel`` there (paperbot has
        #: no ``chat:write.public``), while a response URL still works ("respond" needs no membership).
        self.not_member: set[str] = set()
        #: Queued answers of response URLs: webhooks report errors as an HTTP status and a short error string.
        self.respond_failures: list[tuple[int, str]] = []
        #: Socket Mode: how many websocket sessions were opened, and the index in ``calls`` when each opened.
        self.socket_sessions: list[int] = []
        self._sockets: list[web.WebSocketResponse] = []
        #: Socket Mode acknowledgements the app sent back, in order.
        self.acks: list[dict[str, Any]] = []
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self.base = ""
        self.root = ""

    # --- helpers for tests ---------------------------------------------------------------------------------

    def fail(self, method: str, failure: Failure, times: int = 1, *, after: int = 0) -> None:
        """Answer the next ``times`` calls of ``method`` with ``failure``, after ``after`` normal ones."""
        self.failures.setdefault(method, []).extend([None] * after + [failure] * times)

    def rate_limit(self, method: str, retry_after: int = 3) -> None:
        self.fail(method, Failure("ratelimited", 429, {"Retry-After": str(retry_after)}))

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str) -> list[FakeMessage]:
        return list(self.channels.get(channel, []))

    def message(self, channel: str, ts: str) -> FakeMessage:
        return next(m for m in self.channels[channel] if m.ts == ts)

    def add_user(self, user_id: str, *, admin: bool = False, owner: bool = False) -> None:
        self.users[user_id] = {"id": user_id, "name": user_id.lower(), "is_admin": admin, "is_owner": owner,
                               "is_primary_owner": False, "is_bot": False, "deleted": False}  # fmt: skip

    def react(self, channel: str, ts: str, name: str, user: str) -> None:
        users = self.message(channel, ts).reactions.setdefault(name, [])
        if user not in users:
            users.append(user)

    def unreact(self, channel: str, ts: str, name: str, user: str) -> None:
        users = self.message(channel, ts).reactions.get(name, [])
        if user in users:
            users.remove(user)

    def response_url(self, name: str = "r1") -> str:
        return f"{self.root}/respond/{name}"

    async def wait_for_responses(self, count: int, deadline: float = 5.0) -> list[dict[str, Any]]:
        """Wait (event-driven, with a generous deadline) until ``count`` response-URL posts have arrived."""
        async with asyncio.timeout(deadline), self._changed:
            await self._changed.wait_for(lambda: len(self.responses) >= count)
        return list(self.responses)

    def post(self, channel: str, text: str, *, user: str = BOT_USER, thread_ts: str | None = None,
             metadata: dict[str, Any] | None = None) -> FakeMessage:  # fmt: skip
        n = next(self._seq)
        # Real ts values (seconds now, unique and increasing): lookups filter on ``oldest``.
        message = FakeMessage(f"{int(time.time())}.{n:06d}", user, text, [], metadata, thread_ts)
        self.channels.setdefault(channel, []).append(message)
        return message

    # --- the server ----------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_route("*", "/api/{method}", self._dispatch)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/socket", self._socket)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(("/respond/", "/socket")):
            return await handler(request)
        params = await _params(request)
        method = request.match_info.get("method") or request.path.rsplit("/", 1)[-1]
        self.calls.append(Call(method, params, dict(request.headers)))
        # apps.connections.open takes the app-level token (xapp-…), every other method the bot token.
        token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        # A wrong token is HTTP 200 with ``"ok": false, "error": "invalid_auth"`` on every method, auth.test
        # included ("invalid_auth: Some aspect of authentication cannot be validated"):
        # https://api.slack.com/methods/auth.test#errors, https://api.slack.com/web#evaluating_responses
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        queue = self.failures.get(method)
        failure = queue.pop(0) if queue else None
        if failure is not None:
            if failure.apply_first:
                await handler(request)
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status,
                                     headers=failure.headers)  # fmt: skip
        return await handler(request)

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        status, text = self.respond_failures.pop(0) if self.respond_failures else (200, "ok")
        async with self._changed:
            if status == 200:
                self.responses.append({"url_name": request.match_info["name"], **body})
            else:
                self.refused.append({"status": status, "error": text, **body})
            self._changed.notify_all()
        return web.Response(status=status, text=text)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """The Socket Mode websocket: a ``hello`` on connect, then envelopes pushed by :meth:`send_envelope`; the
        app's acknowledgements (``{"envelope_id": …}``) are recorded in ``acks``."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        async with self._changed:
            self.socket_sessions.append(len(self.calls))
            self._changed.notify_all()
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"},
                            "connection_info": {"app_id": "A0PAPERBOT"}})  # fmt: skip
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if isinstance(message, dict) and message.get("envelope_id"):
                async with self._changed:
                    self.acks.append(message)
                    self._changed.notify_all()
        return ws

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Push one event over the newest Socket Mode session, shaped as Slack documents it ("Socket Mode":
        ``{"envelope_id", "type", "payload", "accepts_response_payload"}``; ``slash_commands`` carries the same
        fields as the HTTP request body). The app must acknowledge it by sending back its ``envelope_id``."""
        envelope_id = f"env-{next(self._seq)}"
        await self._sockets[-1].send_json(
            {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        )
        return envelope_id

    async def wait_for(self, predicate: Any, deadline: float = 5.0) -> None:
        """Wait (event-driven, with a generous deadline) until ``predicate()`` holds after some request."""
        async with asyncio.timeout(deadline), self._changed:
            await self._changed.wait_for(predicate)

    async def close_sockets(self) -> None:
        for ws in self._sockets:
            await ws.close()

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "reactions.get": self._reactions_get,
            "reactions.add": self._reactions_add,
            "users.info": self._users_info,
            "apps.connections.open": self._connections_open,
        }.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        channel = params.get("channel")
        if channel in self.gone_channels:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        answer = handler(params)
        async with self._changed:
            self._changed.notify_all()
        return web.json_response(answer)

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://team.slack.com/", "team": "Team", "user": "paperbot", "team_id": TEAM,
                "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}  # fmt: skip

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ws_root = self.root.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_root}/socket"}

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["channel"] in self.not_member:
            return {"ok": False, "error": "not_in_channel"}
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        message = self.post(params["channel"], params.get("text") or "", thread_ts=params.get("thread_ts"),
                            metadata=metadata)  # fmt: skip
        message.blocks = blocks
        return {"ok": True, "channel": params["channel"], "ts": message.ts,
                "message": message.as_json(metadata=True)}  # fmt: skip

    def _window(self, params: dict[str, Any], messages: list[FakeMessage]) -> list[FakeMessage]:
        oldest = float(params.get("oldest") or 0)
        return [m for m in messages if float(m.ts) >= oldest]

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(params["channel"], [])
        top = [m for m in channel if m.thread_ts is None or m.thread_ts == m.ts]
        found = sorted(self._window(params, top), key=lambda m: float(m.ts), reverse=True)
        found = found[: int(params.get("limit") or 100)]
        metadata = _as_bool(params.get("include_all_metadata"))
        replies = {m.ts: sum(1 for r in channel if r.thread_ts == m.ts and r.ts != m.ts) for m in found}
        return {"ok": True, "messages": [m.as_json(metadata=metadata, replies=replies[m.ts]) for m in found],
                "has_more": False, "response_metadata": {"next_cursor": ""}}  # fmt: skip

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(params["channel"], [])
        parent = params["ts"]
        thread = [m for m in channel if parent in (m.ts, m.thread_ts)]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        metadata = _as_bool(params.get("include_all_metadata"))
        found = [thread[0], *self._window(params, thread[1:])]
        return {"ok": True, "messages": [m.as_json(metadata=metadata) for m in found], "has_more": False,
                "response_metadata": {"next_cursor": ""}}  # fmt: skip

    def _find(self, params: dict[str, Any]) -> FakeMessage | None:
        return next((m for m in self.channels.get(params["channel"], []) if m.ts == params.get("timestamp")), None)

    def _reactions_get(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "type": "message", "channel": params["channel"], "message": message.as_json(metadata=False)}

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        users = message.reactions.setdefault(params["name"], [])
        if BOT_USER in users:
            return {"ok": False, "error": "already_reacted"}
        users.append(BOT_USER)
        return {"ok": True}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(params.get("user") or "")
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}


@asynccontextmanager
async def running_fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.root = f"http://127.0.0.1:{port}"
    fake.base = f"{fake.root}/api/"
    try:
        yield fake
    finally:
        await fake.close_sockets()
        await runner.cleanup()
