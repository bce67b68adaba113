"""Discord REST: posting digest chunks (the ``ChunkSender`` port of :mod:`paperbot.ports`), REST alone (no gateway).

One :class:`DiscordChunkSender` per process (the composition root builds it): it logs in once, on first use, and
renders, posts, finds and decorates chunks for :func:`paperbot.service.publish.publish_digest`.

Every message goes out with ``AllowedMentions.none()`` whatever the payload says, and with the delivery's
deterministic key as its nonce: discord.py sets ``enforce_nonce`` whenever a nonce is given, so Discord answers a
re-send within its window with the message already posted instead of posting a second one. Discord documents it
(https://discord.com/developers/docs/resources/message#create-message): "enforce_nonce: If true and nonce is
present, it will be checked for uniqueness in the past few minutes. If another message was created by the same
author with the same nonce, that message will be returned and no new message will be created"; and the nonce
"will appear in the Message Create event" only: a message fetched later (channel history) carries no nonce.

So what identifies a posted chunk: within the nonce window, re-sending it (Discord returns the original); after
it, only our own author plus the chunk's content and embeds (:func:`_fingerprint_payload`), searched in the
channel history after the delivery's last update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import discord.http

from paperbot.domain import Digest
from paperbot.errors import ConfigError, DeliveryError
from paperbot.service.publish import (
    ChannelUnavailableError,
    ChunkRejectedError,
    NotSentError,
    OutboundChunk,
    OutcomeUnknownError,
)
from paperbot.service.votes import DEFAULT_VOTE_EMOJIS

if TYPE_CHECKING:
    from paperbot.config import Settings
    from paperbot.digest.render.common import RenderedMessage

log = logging.getLogger(__name__)

PLATFORM = "discord"
#: JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json) that come with a 400
#: but say the channel itself cannot take messages, whatever we send: 50008 "Cannot send messages in a non-text
#: channel", 50024 "Cannot execute action on this channel type", 50083 "Operation on an archived thread", 160005
#: "Thread is locked", 50007 "Cannot send messages to this user" (a DM). A human must fix the channel: it is
#: marked broken instead of one chunk being "rejected" every day.
CHANNEL_UNAVAILABLE_400_CODES = frozenset({50007, 50008, 50024, 50083, 160005})
#: How long discord.py waits out a 429 before raising ``RateLimited`` (its smallest allowed value is 30 s).
MAX_RATELIMIT_WAIT = 120.0
#: Longest one HTTP request to Discord may take before its outcome is unknown.
REQUEST_TIMEOUT = 30.0
#: How far back of a delivery's last update the channel history is searched for a chunk of unknown outcome.
LOOKUP_SLACK = timedelta(minutes=5)
LOOKUP_LIMIT = 100


def use_api_base(base: str) -> None:
    """Point discord.py at ``base`` (``PAPERBOT_DISCORD_API_BASE``, e.g. ``https://discord.com/api/v10``).

    discord.py builds every REST URL (webhooks and interaction callbacks included) from ``Route.BASE``.
    """
    discord.http.Route.BASE = base.rstrip("/")


def message_kwargs(chunk: OutboundChunk) -> dict[str, Any]:
    """discord.py ``send`` arguments for a JSON-ready payload: content, embeds, never any mention."""
    payload = chunk.payload
    kwargs: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
    content = payload.get("content")
    if content:
        kwargs["content"] = str(content)
    embeds = payload.get("embeds") or []
    if embeds:
        kwargs["embeds"] = [discord.Embed.from_dict(dict(embed)) for embed in embeds]
    return kwargs


def _fingerprint_payload(payload: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    embeds = tuple(
        (str(e.get("title") or ""), str(e.get("url") or ""), str(e.get("description") or ""))
        for e in payload.get("embeds") or []
    )
    return str(payload.get("content") or ""), embeds


def _fingerprint_message(message: discord.Message) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    embeds = tuple((e.title or "", e.url or "", e.description or "") for e in message.embeds)
    return message.content or "", embeds


def translate_error(exc: BaseException, *, what: str) -> DeliveryError:
    """Sort a discord.py / aiohttp failure into the publishing error that says what to do next."""
    if isinstance(exc, discord.Forbidden):
        return ChannelUnavailableError(f"{what}: forbidden (403, code {exc.code}): {exc.text}")
    if isinstance(exc, discord.NotFound):
        return ChannelUnavailableError(f"{what}: not found (404, code {exc.code}): {exc.text}")
    if isinstance(exc, discord.RateLimited):
        return NotSentError(f"{what}: rate limited for {exc.retry_after:.0f}s")
    if isinstance(exc, discord.DiscordServerError):
        return OutcomeUnknownError(f"{what}: server error {exc.status}")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 400 and exc.code in CHANNEL_UNAVAILABLE_400_CODES:
            return ChannelUnavailableError(f"{what}: channel cannot take messages (400, code {exc.code}): {exc.text}")
        if exc.status == 400:
            return ChunkRejectedError(f"{what}: rejected (400, code {exc.code}): {exc.text}")
        if exc.status == 401:
            # "401 UNAUTHORIZED: The Authorization header was missing or invalid" (opcodes-and-status-codes#http):
            # the request was refused before it did anything, so the chunk was not posted.
            return NotSentError(f"{what}: token rejected (401): check PAPERBOT_DISCORD_TOKEN")
        return NotSentError(f"{what}: HTTP {exc.status} (code {exc.code})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return NotSentError(f"{what}: cannot connect: {exc}")
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError):
        return OutcomeUnknownError(f"{what}: {type(exc).__name__}: {exc}")
    return OutcomeUnknownError(f"{what}: unexpected {type(exc).__name__}: {exc}")


class _InFlight:
    """Counts HTTP requests of one client in flight (an aiohttp trace), so a timeout can tell "a request was on
    the wire" (outcome unknown) from "discord.py was sleeping out a 429" (Discord did not process the request:
    a 429 answer means it was not applied, https://discord.com/developers/docs/topics/rate-limits)."""

    def __init__(self) -> None:
        self.count = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._start)
        self.trace.on_request_end.append(self._end)
        self.trace.on_request_exception.append(self._end)

    async def _start(self, *_: Any) -> None:
        self.count += 1

    async def _end(self, *_: Any) -> None:
        self.count = max(0, self.count - 1)


class DiscordChunkSender:
    """Posts chunks through one ``discord.Client`` (REST only; a gateway connection is not needed).

    With ``token`` it logs in once, on first use (so building it costs no request); without, ``client`` must be
    logged in already. A send may wait out rate limits up to ``MAX_RATELIMIT_WAIT`` seconds inside discord.py: its
    deadline is that wait plus one request's ``timeout``, and a deadline hit while no request is in flight means
    "not sent", never "outcome unknown".
    """

    platform = PLATFORM

    def __init__(
        self,
        client: discord.Client | None = None,
        *,
        token: str | None = None,
        timeout: float = REQUEST_TIMEOUT,
        reactions: Sequence[str] = tuple(DEFAULT_VOTE_EMOJIS),
        max_ratelimit_wait: float = MAX_RATELIMIT_WAIT,
    ) -> None:
        self._in_flight = _InFlight()
        self._client = client or make_client(http_trace=self._in_flight.trace, max_ratelimit_wait=max_ratelimit_wait)
        self._token = token
        self._timeout = timeout
        self._reactions = tuple(reactions)
        self._max_wait = max_ratelimit_wait
        self._login_lock = asyncio.Lock()
        self._logged_in = client is not None and token is None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> DiscordChunkSender:
        """The process's sender for ``PAPERBOT_DISCORD_TOKEN`` at ``PAPERBOT_DISCORD_API_BASE`` (no request yet)."""
        token = token_of(settings)
        use_api_base(settings.discord_api_base)
        return cls(token=token, **options)

    async def ready(self) -> None:
        """Log in once (``GET /users/@me``), on the first call: a rejected token is a ConfigError, not a chunk."""
        async with self._login_lock:
            if not self._logged_in and self._token is not None:
                await login(self._client, self._token)
                self._logged_in = True

    async def close(self) -> None:
        await self._client.close()

    def render(self, digest: Digest) -> list[OutboundChunk]:
        return digest_chunks(digest, reactions=self._reactions)

    async def _channel(self, channel_id: str) -> discord.PartialMessageable:
        await self.ready()
        return self._client.get_partial_messageable(int(channel_id))

    async def send(self, channel_id: str, chunk: OutboundChunk, *, key: str) -> str:
        channel = await self._channel(channel_id)
        try:
            async with asyncio.timeout(self._timeout + self._max_wait):
                message = await channel.send(nonce=key, **message_kwargs(chunk))
        except TimeoutError as exc:
            if self._in_flight.count == 0:
                raise NotSentError(f"send to {channel_id}: still rate limited after {self._max_wait:.0f}s") from exc
            raise translate_error(exc, what=f"send to {channel_id}") from exc
        except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
            raise translate_error(exc, what=f"send to {channel_id}") from exc
        return str(message.id)

    async def find(
        self, channel_id: str, chunk: OutboundChunk, *, key: str, since: datetime | None, known: str | None = None
    ) -> str | None:
        channel = await self._channel(channel_id)
        me = self._client.user
        wanted = _fingerprint_payload(chunk.payload)
        after = (since - LOOKUP_SLACK) if since is not None else None
        seen = 0
        try:
            async with asyncio.timeout(self._timeout + self._max_wait):
                async for message in channel.history(limit=LOOKUP_LIMIT, after=after):
                    seen += 1
                    if me is not None and message.author.id != me.id:
                        continue
                    # A fetched message carries no nonce (it appears in the Message Create event only): our
                    # author plus the exact content and embeds identify the chunk.
                    if _fingerprint_message(message) == wanted:
                        return str(message.id)
                if seen == 0 and known is not None:
                    await self._check_history_readable(channel, known)
        except ChannelUnavailableError:
            raise
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise translate_error(exc, what=f"history of {channel_id}") from exc
        return None

    @staticmethod
    async def _check_history_readable(channel: discord.PartialMessageable, known: str) -> None:
        """An empty history proves nothing without READ_MESSAGE_HISTORY: Get Channel Messages then "returns no
        messages" (a 200), while Get Channel Message "requires the VIEW_CHANNEL and READ_MESSAGE_HISTORY
        permissions" (https://discord.com/developers/docs/resources/message#get-channel-messages). So a message
        this run posted is fetched: a 403 means "cannot tell", and re-sending could post the chunk twice."""
        try:
            await channel.fetch_message(int(known))
        except discord.Forbidden as exc:
            raise ChannelUnavailableError(
                f"history of {channel.id}: unreadable (403, code {exc.code}: READ_MESSAGE_HISTORY missing?);"
                " cannot tell whether the chunk was posted"
            ) from exc
        except discord.NotFound:
            return  # deleted by someone: the history was readable as far as we can tell

    async def decorate(self, channel_id: str, message_id: str, chunk: OutboundChunk) -> None:
        message = (await self._channel(channel_id)).get_partial_message(int(message_id))
        for emoji in chunk.reactions:
            try:
                async with asyncio.timeout(self._timeout + self._max_wait):
                    await message.add_reaction(emoji)
            except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                # Votes still count when users add the emoji themselves: never fail the digest over it.
                log.warning(
                    "cannot add vote reaction",
                    extra={"channel": channel_id, "message_id": message_id, "error": f"{type(exc).__name__}: {exc}"},
                )
                return


def digest_chunks(
    digest: Digest,
    *,
    messages: Sequence[RenderedMessage] | None = None,
    reactions: Sequence[str] = tuple(DEFAULT_VOTE_EMOJIS),
) -> list[OutboundChunk]:
    """The issue-5 Discord rendering of ``digest`` as chunks; the first message of each daily item gets the vote
    reactions."""
    if messages is None:
        from paperbot.digest.render.discord import render_discord

        messages = render_discord(digest)
    chunks = []
    for message in messages:
        is_item = message.item_id is not None and message.part == 0
        chunks.append(
            OutboundChunk(
                payload=message.payload,
                item_id=message.item_id,
                reactions=tuple(reactions) if is_item else (),
            )
        )
    return chunks


def make_client_options(*, max_ratelimit_wait: float = MAX_RATELIMIT_WAIT) -> dict[str, Any]:
    """Options every client gets: no mentions by default, and 429s waited out up to ``max_ratelimit_wait``
    (longer ones raise ``RateLimited``, which publishing treats as "not sent")."""
    return {"allowed_mentions": discord.AllowedMentions.none(), "max_ratelimit_timeout": max_ratelimit_wait}


def make_client(
    *,
    intents: discord.Intents | None = None,
    http_trace: aiohttp.TraceConfig | None = None,
    max_ratelimit_wait: float = MAX_RATELIMIT_WAIT,
) -> discord.Client:
    """A REST-only client (no gateway is opened unless ``connect`` is called)."""
    options = make_client_options(max_ratelimit_wait=max_ratelimit_wait)
    if http_trace is not None:
        options["http_trace"] = http_trace
    return discord.Client(intents=intents or discord.Intents(guilds=True), **options)


def token_of(settings: Settings) -> str:
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise ConfigError("PAPERBOT_DISCORD_TOKEN is not set", key="PAPERBOT_DISCORD_TOKEN")
    return settings.discord_token.get_secret_value().strip()


async def login(client: discord.Client, token: str) -> None:
    """REST login (``GET /users/@me`` and the application); errors become ours."""
    try:
        await client.login(token)
    except discord.LoginFailure as exc:
        raise ConfigError("Discord rejected PAPERBOT_DISCORD_TOKEN", key="PAPERBOT_DISCORD_TOKEN") from exc
    except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"Discord login failed: {type(exc).__name__}: {exc}") from exc
