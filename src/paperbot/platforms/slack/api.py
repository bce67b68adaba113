"""Slack Web API: posting digest chunks (the ``ChunkSender`` port of :mod:`paperbot.ports`), Web API alone (no
Socket Mode connection). One :class:`SlackChunkSender` per process, built by the composition root; it checks the
token (``auth.test``) once, on first use, and keeps who the bot is (:class:`Identity`) for the app of the same
process (:mod:`.runner`), which so makes no ``auth.test`` of its own.

The header goes out first; every other chunk is a reply in its thread, with the thread ts taken from the header's
``chat.postMessage`` answer (publishing hands it over as ``OutboundChunk.thread_id``). Each message carries its
delivery key as message metadata (``event_type`` :data:`EVENT_TYPE`), so a chunk whose outcome is unknown is
looked up with ``conversations.history`` (``conversations.replies`` inside the thread) before it is sent again.
Unfurling is off and the renderer has already escaped ``&``, ``<``, ``>`` in untrusted text.

At most one message per second per channel (:class:`ChannelPacer`, clock and sleep injectable). A 429 or a
``ratelimited`` answer is retried after its ``Retry-After`` by stamina, the project's retry library (its test
mode, ``stamina.set_testing``, skips the waits in tests); nothing else is retried. The SDK's own retry handlers
are off, so a request is never repeated behind our back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import stamina
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from paperbot.domain import Digest
from paperbot.errors import ConfigError, DeliveryError
from paperbot.retry import parse_retry_after
from paperbot.service.publish import (
    ChannelUnavailableError,
    ChunkRejectedError,
    NotSentError,
    OutboundChunk,
    OutcomeUnknownError,
)

if TYPE_CHECKING:
    from paperbot.config import Settings
    from paperbot.digest.render.common import RenderedMessage

log = logging.getLogger(__name__)

PLATFORM = "slack"
#: ``metadata.event_type`` of every message paperbot posts; ``event_payload.delivery`` is the delivery key.
EVENT_TYPE = "paperbot_delivery"
#: Vote reactions the bot adds under each paper (Slack emoji names).
VOTE_REACTIONS = ("thumbsup", "thumbsdown")
#: Errors after which nothing more can be posted to the channel until a human acts.
_CHANNEL_GONE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action", "missing_scope", "access_denied",
     "team_access_not_granted", "ekm_access_denied", "channel_is_archived"}
)  # fmt: skip
#: Errors about this one payload: retrying it would fail the same way.
_REJECTED = frozenset(
    {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "too_many_attachments", "no_text",
     "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large", "metadata_must_be_sent_from_app",
     "invalid_arguments", "invalid_arg_name", "too_many_blocks"}
)  # fmt: skip
#: The token itself was refused (https://api.slack.com/methods/auth.test#errors, the same on every method): Slack
#: did nothing with the request.
_AUTH_REJECTED = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired"})
#: Errors after which Slack may or may not have posted the message.
_UNKNOWN = frozenset({"fatal_error", "internal_error", "service_unavailable"})
RATE_LIMITED = "ratelimited"
#: How far before a delivery's last update the channel is searched for a chunk of unknown outcome.
LOOKUP_SLACK = timedelta(minutes=5)
LOOKUP_PAGES = 5

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the app is, from ``auth.test``: the bot user, its workspace, its bot id."""

    user_id: str
    team_id: str
    bot_id: str | None = None

    @classmethod
    def from_auth_test(cls, data: Mapping[str, Any]) -> Identity:
        return cls(
            user_id=str(data.get("user_id") or ""),
            team_id=str(data.get("team_id") or ""),
            bot_id=str(data["bot_id"]) if data.get("bot_id") else None,
        )


class ChannelPacer:
    """At most one message per ``interval`` seconds per channel (Slack's posting limit is about 1/s/channel)."""

    def __init__(self, interval: float = 1.0, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, channel_id: str) -> None:
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        async with lock:
            last = self._last.get(channel_id)
            if last is not None:
                delay = last + self.interval - self.clock()
                if delay > 0:
                    await self.sleep(delay)
            self._last[channel_id] = self.clock()


def make_web_client(settings: Settings, *, timeout: int = 30) -> AsyncWebClient:
    """The bot-token client at ``PAPERBOT_SLACK_API_BASE``, with the SDK's retry handlers off (we retry ourselves,
    knowing which calls are safe to repeat)."""
    base = settings.slack_api_base
    if not base.endswith("/"):
        base += "/"
    return AsyncWebClient(token=bot_token_of(settings), base_url=base, timeout=timeout, retry_handlers=[])


def bot_token_of(settings: Settings) -> str:
    token = settings.slack_bot_token.get_secret_value().strip() if settings.slack_bot_token else ""
    if not token:
        raise ConfigError("PAPERBOT_SLACK_BOT_TOKEN is not set", key="PAPERBOT_SLACK_BOT_TOKEN")
    return token


def error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "")
    except (AttributeError, TypeError):
        return ""


def retry_after(exc: SlackApiError, default: float = 1.0) -> float | None:
    """Seconds to wait when ``exc`` is a rate limit (429 or ``ratelimited``), else None.

    Slack sends ``Retry-After`` in seconds with every 429 (https://api.slack.com/apis/rate-limits); the value goes
    through the project's one parser (:func:`paperbot.retry.parse_retry_after`), garbage reads as ``default``.
    """
    if exc.response.status_code != 429 and error_code(exc) != RATE_LIMITED:
        return None
    headers = {str(k).lower(): v for k, v in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    parsed = parse_retry_after(value if isinstance(value, str) else None)
    return parsed if parsed is not None else default


def translate_error(exc: BaseException, *, what: str) -> DeliveryError:
    """Sort a Slack SDK / aiohttp failure into the publishing error that says what to do next."""
    if isinstance(exc, SlackApiError):
        code = error_code(exc)
        status = exc.response.status_code
        if code in _CHANNEL_GONE:
            return ChannelUnavailableError(f"{what}: {code}")
        if code in _REJECTED:
            return ChunkRejectedError(f"{what}: rejected: {code}")
        if code in _AUTH_REJECTED:
            return NotSentError(f"{what}: token rejected: {code}: check PAPERBOT_SLACK_BOT_TOKEN")
        if code in _UNKNOWN or status >= 500:
            return OutcomeUnknownError(f"{what}: {code or 'HTTP ' + str(status)}")
        if status == 429 or code == RATE_LIMITED:
            return NotSentError(f"{what}: rate limited")
        # Any other ``ok: false`` answer means Slack did not post it.
        return NotSentError(f"{what}: {code or 'HTTP ' + str(status)}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return NotSentError(f"{what}: cannot connect: {exc}")
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError | SlackClientError):
        return OutcomeUnknownError(f"{what}: {type(exc).__name__}: {exc}")
    return OutcomeUnknownError(f"{what}: unexpected {type(exc).__name__}: {exc}")


async def call_with_retry(
    call: Callable[[], Awaitable[Any]],
    *,
    max_retries: int = 5,
    max_wait: float = 120.0,
) -> Any:
    """Run one Web API call, retrying it up to ``max_retries`` times after a rate limit, waiting its Retry-After.

    Only rate limits are retried: a 429 / ``ratelimited`` answer means Slack did not process the request, so it is
    safe to repeat (https://api.slack.com/apis/rate-limits). A wait longer than ``max_wait`` is not waited for, and
    every other error (``channel_not_found``, ``fatal_error``: maybe posted) is raised at once for the caller to sort.
    """

    def backoff(exc: Exception) -> bool | float:
        wait = retry_after(exc) if isinstance(exc, SlackApiError) else None
        if wait is None or wait > max_wait:
            return False
        return wait  # stamina waits exactly this, not its exponential backoff (and logs the retry itself)

    async for attempt in stamina.retry_context(
        on=backoff,
        attempts=max_retries + 1,
        timeout=None,  # each wait is bounded by max_wait, each request by the client's timeout
        wait_max=max_wait,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: retry_context always runs at least once")  # pragma: no cover


def delivery_of(message: Mapping[str, Any]) -> str | None:
    """The delivery key a message carries in its metadata, if paperbot posted it."""
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping):
        return None
    key = payload.get("delivery")
    return key if isinstance(key, str) else None


class SlackChunkSender:
    """Posts chunks with ``chat.postMessage``; finds them again by their metadata."""

    platform = PLATFORM

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: ChannelPacer | None = None,
        max_retries: int = 5,
        max_wait: float = 120.0,
        reactions: Sequence[str] = VOTE_REACTIONS,
        check_token: bool = False,
    ) -> None:
        self._client = client
        self._pacer = pacer or ChannelPacer()
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._reactions = tuple(reactions)
        self._check_token = check_token
        self._identity: Identity | None = None
        self._check_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> SlackChunkSender:
        """The process's sender for ``PAPERBOT_SLACK_BOT_TOKEN`` (the token is checked on first use)."""
        return cls(make_web_client(settings), check_token=True, **options)

    @property
    def client(self) -> AsyncWebClient:
        """The bot-token client (the app of this process uses it too)."""
        return self._client

    async def ready(self) -> None:
        """Check the token once (``auth.test``) before the first post: a bad token is a ConfigError, not a chunk."""
        if self._check_token:
            await self.identity()

    async def identity(self) -> Identity:
        """Who the bot is: ``auth.test``, once per sender (so once per process), shared with the app.

        Raises ConfigError when Slack rejects the token, DeliveryError when it cannot be asked; a failed check is
        not cached (the next call asks again).
        """
        async with self._check_lock:
            if self._identity is None:
                self._identity = Identity.from_auth_test(await auth_test(self._client))
            return self._identity

    async def close(self) -> None:
        """Nothing to close: the SDK opens an aiohttp session per request."""

    def render(self, digest: Digest) -> list[OutboundChunk]:
        return digest_chunks(digest, reactions=self._reactions)

    async def _call(self, call: Callable[[], Awaitable[Any]], *, what: str) -> Any:
        try:
            return await call_with_retry(call, max_retries=self._max_retries, max_wait=self._max_wait)
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise translate_error(exc, what=what) from exc

    async def send(self, channel_id: str, chunk: OutboundChunk, *, key: str) -> str:
        await self.ready()
        payload = chunk.payload
        arguments: dict[str, Any] = {
            "channel": channel_id,
            "text": str(payload.get("text") or ""),
            "blocks": list(payload.get("blocks") or []),
            "unfurl_links": False,
            "unfurl_media": False,
            "link_names": False,
            "metadata": {"event_type": EVENT_TYPE, "event_payload": {"delivery": key}},
        }
        if chunk.thread_id is not None:
            arguments["thread_ts"] = chunk.thread_id

        async def post() -> Any:
            await self._pacer.wait(channel_id)  # every attempt counts against the channel's pace
            return await self._client.chat_postMessage(**arguments)

        response = await self._call(post, what=f"post to {channel_id}")
        ts = response.get("ts")
        if not isinstance(ts, str) or not ts:
            raise OutcomeUnknownError(f"post to {channel_id}: answer without ts")
        return ts

    async def find(
        self, channel_id: str, chunk: OutboundChunk, *, key: str, since: datetime | None, known: str | None = None
    ) -> str | None:
        # ``known`` is not needed: without the history scope Slack answers ``missing_scope`` (an error), never an
        # empty list (https://api.slack.com/methods/conversations.history#errors).
        await self.ready()
        oldest = f"{(since - LOOKUP_SLACK).timestamp():.6f}" if since is not None else None
        arguments: dict[str, Any] = {"channel": channel_id, "include_all_metadata": True, "limit": 200}
        if oldest is not None:
            arguments["oldest"] = oldest
        in_thread = chunk.thread_id is not None
        if in_thread:
            arguments["ts"] = chunk.thread_id
        for _ in range(LOOKUP_PAGES):
            if in_thread:
                response = await self._call(
                    lambda: self._client.conversations_replies(**arguments), what=f"replies in {channel_id}"
                )
            else:
                response = await self._call(
                    lambda: self._client.conversations_history(**arguments), what=f"history of {channel_id}"
                )
            for message in response.get("messages") or []:
                if isinstance(message, Mapping) and delivery_of(message) == key:
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
            arguments["cursor"] = cursor
        return None

    async def decorate(self, channel_id: str, message_id: str, chunk: OutboundChunk) -> None:
        for name in chunk.reactions:
            try:
                await call_with_retry(
                    functools.partial(self._client.reactions_add, channel=channel_id, timestamp=message_id, name=name),
                    max_retries=self._max_retries,
                    max_wait=self._max_wait,
                )
            except SlackApiError as exc:
                if error_code(exc) == "already_reacted":
                    continue
                self._warn(channel_id, message_id, exc)
                return
            except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                # Votes still count when users add the emoji themselves: never fail the digest over it.
                self._warn(channel_id, message_id, exc)
                return

    @staticmethod
    def _warn(channel_id: str, message_id: str, exc: BaseException) -> None:
        log.warning(
            "cannot add vote reaction",
            extra={"channel": channel_id, "message_id": message_id, "error": f"{type(exc).__name__}: {exc}"},
        )


def digest_chunks(
    digest: Digest,
    *,
    messages: Sequence[RenderedMessage] | None = None,
    reactions: Sequence[str] = VOTE_REACTIONS,
) -> list[OutboundChunk]:
    """The issue-5 Slack rendering of ``digest`` as chunks: the header first, the rest replies in its thread; the
    first message of each daily item gets the vote reactions."""
    if messages is None:
        from paperbot.digest.render.slack import render_slack

        messages = render_slack(digest)
    chunks = []
    for index, message in enumerate(messages):
        is_item = message.item_id is not None and message.part == 0
        threaded = index > 0 and bool(message.meta.get("thread", True))
        chunks.append(
            OutboundChunk(
                payload=message.payload,
                item_id=message.item_id,
                reactions=tuple(reactions) if is_item else (),
                thread_of=0 if threaded else None,
            )
        )
    return chunks


async def auth_test(client: AsyncWebClient) -> dict[str, Any]:
    """``auth.test``: checks the token and returns who we are (``user_id`` of the bot user, ``team_id``)."""
    try:
        response = await call_with_retry(client.auth_test)
    except SlackApiError as exc:
        code = error_code(exc)
        if code in _AUTH_REJECTED:
            raise ConfigError(
                f"Slack rejected PAPERBOT_SLACK_BOT_TOKEN: {code}", key="PAPERBOT_SLACK_BOT_TOKEN"
            ) from exc
        raise DeliveryError(f"Slack auth.test failed: {code or exc.response.status_code}") from exc
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"Slack auth.test failed: {type(exc).__name__}: {exc}") from exc
    return dict(response.data) if isinstance(response.data, dict) else {}
