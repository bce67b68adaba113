"""A local fake of the Discord REST API (aiohttp.web on 127.0.0.1), recording every request.

It serves what paperbot uses: login (``/users/@me``, ``/oauth2/applications/@me``), command sync, channel
messages (create with nonce + enforce_nonce, history), reactions, interaction callbacks and follow-up webhooks.
Failures are queued per route: 429 bodies with ``retry_after`` and the ``Via`` header discord.py expects, 403,
404 (unknown channel), 5xx.
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

from aiohttp import web

BOT_ID = 900000000000000001
APP_ID = 900000000000000002
OWNER_ID = 900000000000000003
DISCORD_EPOCH_MS = 1420070400000


def bot_user() -> dict[str, Any]:
    return {"id": str(BOT_ID), "username": "paperbot", "discriminator": "0", "global_name": None, "avatar": None,
            "bot": True}  # fmt: skip


def user(user_id: int, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": f"user{user_id}", "discriminator": "0", "global_name": None,
            "avatar": None, "bot": bot}  # fmt: skip


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with the exact ``Content-Type: application/json`` Discord sends (discord.py checks it verbatim)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={**(headers or {}), "Content-Type": "application/json"}
    )


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    @property
    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict)
        return self.body


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    #: Apply the request (e.g. create the message) before failing: a lost answer.
    apply_first: bool = False


@dataclass
class FakeInteraction:
    """One interaction's response state, as Discord keeps it per interaction token."""

    #: The deferred ("thinking…") response, once the callback was type 5; edited or deleted later.
    original: dict[str, Any] | None = None
    ephemeral: bool = False
    #: Whether the original is still the loading message nobody has answered through yet.
    loading: bool = False
    #: The messages a user sees, in order: each body with ``flags`` as shown and ``via`` (how it got there).
    shown: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeMessage:
    data: dict[str, Any]
    nonce: str | None
    #: emoji → ordered user ids who reacted
    reactions: dict[str, list[int]] = field(default_factory=dict)


class FakeDiscord:
    """State and handlers of the fake API. ``base`` is the value for PAPERBOT_DISCORD_API_BASE."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.messages: dict[str, dict[str, FakeMessage]] = {}  # channel → id → message
        self.failures: dict[tuple[str, str], list[Failure]] = {}
        self.gone_channels: set[str] = set()
        self.forbidden_channels: set[str] = set()
        self.commands: list[dict[str, Any]] = []
        self.interactions: dict[str, FakeInteraction] = {}
        #: Channels where the bot lacks READ_MESSAGE_HISTORY (history is empty, single messages 403).
        self.no_history: set[str] = set()
        #: Threads that are archived or locked: creating a message there is a 400 with JSON code 50083 ("Operation
        #: is not allowed in an archived thread"); channels that hold no text (voice, category, forum itself): 400
        #: with code 50008 ("Cannot send messages in a non-text channel") — Discord's JSON error codes table.
        self.archived_threads: set[str] = set()
        #: Message ids whose nonce Discord no longer remembers ("checked for uniqueness in the past few minutes").
        self._forgotten_nonces: set[str] = set()
        self.non_text_channels: set[str] = set()
        #: Requests answered with a queued failure, in order.
        self.failed: list[Recorded] = []
        self._changed = asyncio.Condition()
        self._seq = itertools.count(1)
        self.base = ""

    # --- helpers for tests ---------------------------------------------------------------------------------

    def snowflake(self) -> int:
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + next(self._seq)

    def forget_nonces(self) -> None:
        """Let "the past few minutes" of enforce_nonce pass: a re-send with an old nonce creates a new message."""
        self._forgotten_nonces.update(m.data["id"] for channel in self.messages.values() for m in channel.values())

    def fail(self, method: str, path_prefix: str, failure: Failure, times: int = 1) -> None:
        self.failures.setdefault((method, path_prefix), []).extend([failure] * times)

    def rate_limit(self, method: str, path_prefix: str, retry_after: float = 0.01) -> None:
        self.fail(
            method,
            path_prefix,
            Failure(
                429,
                {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                {"Via": "1.1 google", "Retry-After": str(retry_after), "X-RateLimit-Scope": "user"},
            ),
        )

    def sent(self, channel_id: str | None = None) -> list[Recorded]:
        """POSTs that created channel messages (optionally in one channel), in order."""
        prefix = f"/channels/{channel_id}/messages" if channel_id else "/channels/"
        return [r for r in self.requests if r.method == "POST" and r.path.startswith(prefix)
                and r.path.endswith("/messages")]  # fmt: skip

    def calls(self, method: str, contains: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and contains in r.path]

    def channel_messages(self, channel_id: str) -> list[FakeMessage]:
        return list(self.messages.get(channel_id, {}).values())

    def add_message(self, channel_id: str, content: str, *, author: dict[str, Any] | None = None) -> FakeMessage:
        message_id = str(self.snowflake())
        data = self._message_data(channel_id, message_id, {"content": content}, author or bot_user())
        stored = FakeMessage(data, None)
        self.messages.setdefault(channel_id, {})[message_id] = stored
        return stored

    # --- the server ----------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._application)
        r.add_put("/api/v10/applications/{app}/commands", self._sync)
        r.add_post("/api/v10/channels/{channel}/messages", self._create_message)
        r.add_get("/api/v10/channels/{channel}/messages", self._history)
        r.add_get("/api/v10/channels/{channel}/messages/{message}", self._get_message)
        r.add_put("/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._react)
        r.add_get("/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}", self._reactors)
        r.add_post("/api/v10/interactions/{id}/{token}/callback", self._callback)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/{message}", self._edit_followup)
        r.add_delete("/api/v10/webhooks/{app}/{token}/messages/{message}", self._delete_followup)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        path = request.path.removeprefix("/api/v10")
        self.requests.append(Recorded(request.method, path, dict(request.query), dict(request.headers), body))
        # Interaction callbacks and follow-ups are authorised by the interaction token in the path, not the bot's.
        token_in_path = path.startswith(("/interactions/", "/webhooks/"))
        # "401 UNAUTHORIZED: The Authorization header was missing or invalid", on every route (login's
        # GET /users/@me included): https://discord.com/developers/docs/topics/opcodes-and-status-codes#http
        if not token_in_path and request.headers.get("Authorization") != "Bot test-token":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        for (method, prefix), queue in self.failures.items():
            if method == request.method and path.startswith(prefix) and queue:
                failure = queue.pop(0)
                if failure.apply_first:
                    await handler(request)
                self.failed.append(self.requests[-1])
                await self._notify()
                return _json(failure.body, status=failure.status, headers=failure.headers)
        response = await handler(request)
        await self._notify()
        return response

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Any, deadline: float = 5.0) -> None:
        """Wait (event-driven, with a generous deadline) until ``predicate()`` holds after some request."""
        async with asyncio.timeout(deadline), self._changed:
            await self._changed.wait_for(predicate)

    async def _me(self, request: web.Request) -> web.Response:
        return _json(bot_user())

    async def _application(self, request: web.Request) -> web.Response:
        return _json({
            "id": str(APP_ID), "name": "paperbot", "description": "", "icon": None, "bot_public": True,
            "bot_require_code_grant": False, "owner": user(OWNER_ID), "verify_key": "00", "flags": 0,
        })  # fmt: skip

    async def _sync(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.commands = [
            {**command, "id": str(self.snowflake()), "application_id": str(APP_ID), "version": "1"} for command in body
        ]
        return _json(self.commands)

    def _message_data(
        self, channel_id: str, message_id: str, body: dict[str, Any], author: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": message_id, "channel_id": channel_id, "author": author, "content": body.get("content") or "",
            "embeds": body.get("embeds") or [], "timestamp": "2024-04-20T00:00:00.000000+00:00",
            "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": [], "pinned": False, "type": 0, "flags": body.get("flags", 0),
        }  # fmt: skip

    def _channel_error(self, channel_id: str) -> web.Response | None:
        if channel_id in self.gone_channels:
            return _json({"message": "Unknown Channel", "code": 10003}, status=404)
        if channel_id in self.forbidden_channels:
            return _json({"message": "Missing Access", "code": 50001}, status=403)
        return None

    async def _create_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel"]
        error = self._channel_error(channel_id)
        if error is not None:
            return error
        if channel_id in self.archived_threads:
            return _json({"message": "Thread is archived", "code": 50083}, status=400)
        if channel_id in self.non_text_channels:
            return _json({"message": "Cannot send messages in a non-text channel", "code": 50008}, status=400)
        body = await request.json()
        nonce = body.get("nonce")
        channel = self.messages.setdefault(channel_id, {})
        if nonce is not None and body.get("enforce_nonce"):
            # enforce_nonce: "checked for uniqueness in the past few minutes" — not forever (see forget_nonces).
            for message in channel.values():
                if message.nonce == nonce and message.data["id"] not in self._forgotten_nonces:
                    return _json({**message.data, "nonce": nonce})
        message_id = str(self.snowflake())
        data = self._message_data(channel_id, message_id, body, bot_user())
        channel[message_id] = FakeMessage(data, nonce)
        return _json({**data, "nonce": nonce} if nonce else data)

    async def _history(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel"]
        error = self._channel_error(channel_id)
        if error is not None:
            return error
        if channel_id in self.no_history:
            # Get Channel Messages: "If the current user is missing the READ_MESSAGE_HISTORY permission in the
            # channel, then no messages will be returned" — an empty 200, not a 403.
            return _json([])
        limit = int(request.query.get("limit", "50"))
        after = int(request.query.get("after", "0"))
        before = int(request.query["before"]) if "before" in request.query else None
        found = [
            m for m in self.messages.get(channel_id, {}).values()
            if int(m.data["id"]) > after and (before is None or int(m.data["id"]) < before)
        ]  # fmt: skip
        if after and before is None:
            found.sort(key=lambda m: int(m.data["id"]))  # oldest first after an "after"
            found = found[:limit]
            found.reverse()  # Discord always answers newest first
        else:
            found.sort(key=lambda m: int(m.data["id"]), reverse=True)
            found = found[:limit]
        return _json([self._with_reactions(m) for m in found])

    async def _get_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel"]
        error = self._channel_error(channel_id)
        if error is not None:
            return error
        if channel_id in self.no_history:
            # Get Channel Message "requires the VIEW_CHANNEL and READ_MESSAGE_HISTORY permissions".
            return _json({"message": "Missing Access", "code": 50001}, status=403)
        message = self.messages.get(channel_id, {}).get(request.match_info["message"])
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        return _json(self._with_reactions(message))

    def _with_reactions(self, message: FakeMessage) -> dict[str, Any]:
        reactions = [
            {"emoji": {"id": None, "name": emoji}, "count": len(users), "me": BOT_ID in users,
             "count_details": {"burst": 0, "normal": len(users)}, "burst_colors": [], "me_burst": False}
            for emoji, users in message.reactions.items() if users
        ]  # fmt: skip
        return {**message.data, "reactions": reactions} if reactions else dict(message.data)

    async def _react(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel"]
        error = self._channel_error(channel_id)
        if error is not None:
            return error
        message = self.messages.get(channel_id, {}).get(request.match_info["message"])
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        users = message.reactions.setdefault(request.match_info["emoji"], [])
        if BOT_ID not in users:
            users.append(BOT_ID)
        return web.Response(status=204)

    async def _reactors(self, request: web.Request) -> web.Response:
        message = self.messages.get(request.match_info["channel"], {}).get(request.match_info["message"])
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        after = int(request.query.get("after", "0"))
        limit = int(request.query.get("limit", "25"))
        ids = sorted(u for u in message.reactions.get(request.match_info["emoji"], []) if u > after)[:limit]
        return _json([bot_user() if u == BOT_ID else user(u) for u in ids])

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        ephemeral = bool((body.get("data") or {}).get("flags", 0) & 64)
        state = self.interactions.setdefault(request.match_info["token"], FakeInteraction())
        if body["type"] == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: a "thinking…" message is shown
            state.original = {"content": "", "flags": 64 if ephemeral else 0}
            state.ephemeral, state.loading = ephemeral, True
        elif body["type"] == 4:
            state.original = dict(body.get("data") or {})
            state.shown.append({**state.original, "flags": 64 if ephemeral else 0, "via": "callback"})
        return _json({
            "interaction": {"id": request.match_info["id"], "type": 2, "response_message_loading": body["type"] == 5,
                            "response_message_ephemeral": ephemeral},
        })  # fmt: skip

    async def _followup(self, request: web.Request) -> web.Response:
        body = await request.json()
        state = self.interactions.setdefault(request.match_info["token"], FakeInteraction())
        message_id = str(self.snowflake())
        if state.loading:
            # Create Followup Message: "When using this endpoint directly after responding to an interaction with
            # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, this endpoint will function as Edit Original Interaction
            # Response … no new message will be created … The ephemeral flag will be ignored" (deprecated).
            state.loading = False
            state.shown.append({**body, "flags": 64 if state.ephemeral else 0, "via": "followup-as-edit"})
        else:
            state.shown.append({**body, "flags": body.get("flags", 0) & 64, "via": "followup"})
        return _json({**self._message_data("0", message_id, body, bot_user()), "webhook_id": str(APP_ID)})

    async def _edit_followup(self, request: web.Request) -> web.Response:
        body = await request.json()
        state = self.interactions.setdefault(request.match_info["token"], FakeInteraction())
        if request.match_info["message"] == "@original":
            if state.original is None:
                return _json({"message": "Unknown Webhook", "code": 10015}, status=404)
            state.loading = False
            state.original.update(body)
            state.shown.append({**body, "flags": 64 if state.ephemeral else 0, "via": "edit-original"})
        return _json(self._message_data("0", str(self.snowflake()), body, bot_user()))

    async def _delete_followup(self, request: web.Request) -> web.Response:
        state = self.interactions.setdefault(request.match_info["token"], FakeInteraction())
        if request.match_info["message"] == "@original":
            state.original, state.loading = None, False
        return web.Response(status=204)

    # --- conveniences ------------------------------------------------------------------------------------

    def followups(self) -> list[Recorded]:
        """Follow-up messages (``POST /webhooks/{app}/{token}``), in order."""
        return [r for r in self.requests if r.method == "POST" and r.path.startswith("/webhooks/")]

    def callbacks(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/callback")]


@asynccontextmanager
async def running_fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.base = f"http://127.0.0.1:{port}/api/v10"
    try:
        yield fake
    finally:
        await runner.cleanup()
