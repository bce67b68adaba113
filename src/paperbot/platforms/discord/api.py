"""Discord REST: posting digest chunks (the ``ChunkSender`` of :mod:`paperbot.service.publish`) and one-shot
publishing for ``paperbot digest --to discord:CHANNEL_ID`` (REST alone, no gateway).

Every message goes out with ``AllowedMentions.none()`` whatever the payload says, and with the delivery's
deterministic key as its nonce: discord.py sets ``enforce_nonce`` whenever a nonce is given, so Discord answers a
re-send within its window with the message already posted instead of posting a second one.
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
    PublishRepository,
    PublishResult,
    publish_chunks,
)
from paperbot.service.votes import DEFAULT_VOTE_EMOJIS

if TYPE_CHECKING:
    from paperbot.config import Settings
    from paperbot.digest.render.common import RenderedMessage

log = logging.getLogger(__name__)

PLATFORM = "discord"
#: Discord error codes that mean "this channel is gone" (Unknown Channel) or "not allowed" (Missing Access/Permissions).
_CHANNEL_GONE_CODES = frozenset({10003, 50001, 50013})
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
        if exc.status == 400:
            return ChunkRejectedError(f"{what}: rejected (400, code {exc.code}): {exc.text}")
        return NotSentError(f"{what}: HTTP {exc.status} (code {exc.code})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return NotSentError(f"{what}: cannot connect: {exc}")
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError):
        return OutcomeUnknownError(f"{what}: {type(exc).__name__}: {exc}")
    return OutcomeUnknownError(f"{what}: unexpected {type(exc).__name__}: {exc}")


class DiscordChunkSender:
    """Posts chunks through a logged-in ``discord.Client`` (REST only; a gateway connection is not needed)."""

    platform = PLATFORM

    def __init__(self, client: discord.Client, *, timeout: float = 30.0) -> None:
        self._client = client
        self._timeout = timeout

    def _channel(self, channel_id: str) -> discord.PartialMessageable:
        return self._client.get_partial_messageable(int(channel_id))

    async def send(self, channel_id: str, chunk: OutboundChunk, *, key: str) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                message = await self._channel(channel_id).send(nonce=key, **message_kwargs(chunk))
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise translate_error(exc, what=f"send to {channel_id}") from exc
        return str(message.id)

    async def find(self, channel_id: str, chunk: OutboundChunk, *, key: str, since: datetime | None) -> str | None:
        me = self._client.user
        wanted = _fingerprint_payload(chunk.payload)
        after = (since - LOOKUP_SLACK) if since is not None else None
        try:
            async with asyncio.timeout(self._timeout):
                async for message in self._channel(channel_id).history(limit=LOOKUP_LIMIT, after=after):
                    if me is not None and message.author.id != me.id:
                        continue
                    # The nonce comes back only while Discord remembers it; the content is the fallback.
                    if message.nonce == key or _fingerprint_message(message) == wanted:
                        return str(message.id)
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise translate_error(exc, what=f"history of {channel_id}") from exc
        return None

    async def decorate(self, channel_id: str, message_id: str, chunk: OutboundChunk) -> None:
        message = self._channel(channel_id).get_partial_message(int(message_id))
        for emoji in chunk.reactions:
            try:
                async with asyncio.timeout(self._timeout):
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


def make_client_options() -> dict[str, Any]:
    """Options every client gets: no mentions by default, and 429s waited out up to two minutes (longer ones
    raise ``RateLimited``, which publishing treats as "not sent")."""
    return {"allowed_mentions": discord.AllowedMentions.none(), "max_ratelimit_timeout": 120.0}


def make_client(*, intents: discord.Intents | None = None) -> discord.Client:
    """A REST-only client (no gateway is opened unless ``connect`` is called)."""
    return discord.Client(intents=intents or discord.Intents(guilds=True), **make_client_options())


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


async def publish_once(
    settings: Settings,
    repository: PublishRepository,
    digest: Digest,
    channel_id: str,
    *,
    messages: Sequence[RenderedMessage] | None = None,
    reactions: Sequence[str] = tuple(DEFAULT_VOTE_EMOJIS),
) -> PublishResult:
    """Post ``digest`` to one channel over REST and return; a second call for the same digest posts nothing.

    ``messages`` is the Discord rendering when the caller already has it (default: ``render_discord(digest)``).
    """
    if not channel_id.isdigit():
        raise ConfigError(f"not a Discord channel id: {channel_id!r}", key="--to")
    token = token_of(settings)
    use_api_base(settings.discord_api_base)
    chunks = digest_chunks(digest, messages=messages, reactions=reactions)
    async with make_client() as client:
        await login(client, token)
        return await publish_chunks(
            repository,
            DiscordChunkSender(client),
            target=f"{PLATFORM}:{channel_id}",
            kind=digest.kind,
            day=digest.day,
            chunks=chunks,
        )
