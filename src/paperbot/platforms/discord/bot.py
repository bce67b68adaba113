"""The long-running Discord bot: ``/paper`` slash commands and reaction votes over the gateway.

Intents: guilds and guild reactions only (no privileged intent: no message content, no members, no presences).
Votes come from the *raw* reaction events, so reactions on messages posted before a restart (not in the cache)
count too; the bot's own reactions never count. Voter ids are stored as HMAC-SHA256 under a per-install key.
At start the reactions of recent digest messages are read back, so votes cast while the bot was down count.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
import discord
from discord import app_commands

from paperbot.domain import utcnow
from paperbot.errors import PaperbotError
from paperbot.platforms.discord.api import PLATFORM, make_client_options
from paperbot.platforms.discord.render import reply_messages
from paperbot.service import commands
from paperbot.service.commands import Caller, CommandContext, CommandError, Reply
from paperbot.service.votes import DEFAULT_VOTE_EMOJIS, Reaction, VoteOutcome, record_reaction, sync_message_votes

log = logging.getLogger(__name__)

#: Guild events and reactions only; nothing privileged.
INTENTS = discord.Intents(guilds=True, guild_reactions=True)
GENERIC_ERROR = "요청을 처리하지 못했습니다. 잠시 뒤에 다시 해 주세요."
RECONCILE_DAYS = 7
RECONCILE_MESSAGES = 100


class VoterHasher:
    """Voter id → HMAC-SHA256 hex (first 32 characters) under a per-install key; the raw id is never stored."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the voter key must be at least 16 bytes")
        self._key = key

    def __call__(self, user_id: int) -> str:
        return hmac.new(self._key, f"{PLATFORM}:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def is_channel_admin(permissions: discord.Permissions) -> bool:
    """Admin commands: whoever may manage the server or the channel (checked at run time, per interaction)."""
    return permissions.administrator or permissions.manage_guild or permissions.manage_channels


def caller_of(interaction: discord.Interaction[Any]) -> Caller:
    return Caller(
        platform=PLATFORM,
        channel_id=str(interaction.channel_id),
        workspace_id=str(interaction.guild_id) if interaction.guild_id else None,
        is_admin=interaction.guild_id is not None and is_channel_admin(interaction.permissions),
    )


class DiscordPlatform(discord.Client):
    """``discord.Client`` with the ``/paper`` command tree and the vote handlers."""

    def __init__(
        self,
        context: CommandContext,
        *,
        voter_key: bytes,
        vote_emojis: Mapping[str, int] = DEFAULT_VOTE_EMOJIS,
        sync_commands: bool = True,
        reconcile_days: int = RECONCILE_DAYS,
    ) -> None:
        super().__init__(intents=INTENTS, **make_client_options())
        self.context = context
        self.hash_voter = VoterHasher(voter_key)
        self.vote_emojis = dict(vote_emojis)
        self.sync_commands = sync_commands
        self.reconcile_days = reconcile_days
        self._reconciled = False
        self.tree: app_commands.CommandTree[DiscordPlatform] = app_commands.CommandTree(self)
        self.tree.add_command(paper_group(self))

    async def setup_hook(self) -> None:
        if self.sync_commands:
            await self.tree.sync()

    async def on_ready(self) -> None:
        if not self._reconciled:
            self._reconciled = True
            counted = await self.reconcile_votes()
            log.info("discord ready", extra={"reconciled_votes": counted})

    # --- votes ------------------------------------------------------------------------------------------------

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.handle_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.handle_reaction(payload, added=False)

    async def handle_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> VoteOutcome:
        me = self.user
        if payload.guild_id is None or (me is not None and payload.user_id == me.id):
            return VoteOutcome.IGNORED
        if payload.member is not None and payload.member.bot:
            return VoteOutcome.IGNORED
        reaction = Reaction(
            platform=PLATFORM,
            channel_id=str(payload.channel_id),
            message_id=str(payload.message_id),
            voter_hash=self.hash_voter(payload.user_id),
            emoji=str(payload.emoji),
            added=added,
        )
        try:
            return await record_reaction(self.context.repository, reaction, vote_emojis=self.vote_emojis)
        except PaperbotError:
            log.exception("cannot record a vote", extra={"message_id": str(payload.message_id)})
            return VoteOutcome.IGNORED

    async def reconcile_votes(self) -> int:
        """Read back the vote reactions of recent digest messages in subscribed channels; returns votes added.

        Adds votes cast while the bot was away and removes the ones withdrawn meanwhile.
        """
        me = self.user
        since = utcnow() - timedelta(days=self.reconcile_days)
        added = 0
        for subscription in await self.context.repository.list_subscriptions(platform=PLATFORM):
            if not subscription.enabled or subscription.broken_reason:
                continue
            channel = self.get_partial_messageable(int(subscription.channel_id))
            try:
                async for message in channel.history(limit=RECONCILE_MESSAGES, after=since):
                    if me is not None and message.author.id != me.id:
                        continue
                    added += await self._reconcile_message(message)
            except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning(
                    "cannot reconcile votes",
                    extra={"channel": subscription.channel_id, "error": f"{type(exc).__name__}: {exc}"},
                )
        return added

    async def _reconcile_message(self, message: discord.Message) -> int:
        me = self.user
        present: list[tuple[str, str]] = []
        for reaction in message.reactions:
            emoji = str(reaction.emoji)
            if emoji not in self.vote_emojis or reaction.count <= (1 if reaction.me else 0):
                continue
            async for user in reaction.users():
                if (me is not None and user.id == me.id) or user.bot:
                    continue
                present.append((self.hash_voter(user.id), emoji))
        added, removed = await sync_message_votes(
            self.context.repository,
            platform=PLATFORM,
            channel_id=str(message.channel.id),
            message_id=str(message.id),
            present=present,
            vote_emojis=self.vote_emojis,
        )
        if removed:
            log.info("votes withdrawn while away", extra={"message_id": str(message.id), "removed": removed})
        return added


# --- /paper -------------------------------------------------------------------------------------------------------


async def respond(
    interaction: discord.Interaction[Any], run: Callable[[Caller], Awaitable[Reply]], *, ephemeral: bool = False
) -> None:
    """Acknowledge at once (defer), run the use case, follow up; errors become a short ephemeral Korean message."""
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    try:
        reply = await run(caller_of(interaction))
    except CommandError as exc:
        await _fail(interaction, exc.user_message, public_defer=not ephemeral)
        return
    except PaperbotError as exc:
        log.warning("command failed", extra={"error": str(exc)})
        await _fail(interaction, exc.user_message, public_defer=not ephemeral)
        return
    except Exception:
        log.exception("command crashed")
        await _fail(interaction, GENERIC_ERROR, public_defer=not ephemeral)
        return
    if reply.ephemeral and not ephemeral:
        # The "thinking…" placeholder is public: drop it and answer privately.
        await interaction.delete_original_response()
    for message in reply_messages(reply):
        await interaction.followup.send(ephemeral=reply.ephemeral or ephemeral, **message)


async def _fail(interaction: discord.Interaction[Any], text: str, *, public_defer: bool) -> None:
    if public_defer:
        await interaction.delete_original_response()
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


def paper_group(bot: DiscordPlatform) -> app_commands.Group:
    """The ``/paper`` command group. Descriptions are Korean; command and option names stay ASCII."""
    ctx = bot.context
    group = app_commands.Group(name="paper", description="Hugging Face 논문 다이제스트", guild_only=True)

    @group.command(name="search", description="모은 논문과 블로그 글 검색 (한국어·영어)")
    @app_commands.describe(query="검색어", limit="결과 수 (최대 20)")
    async def search(
        interaction: discord.Interaction[Any], query: str, limit: app_commands.Range[int, 1, 20] | None = None
    ) -> None:
        await respond(interaction, lambda caller: commands.search(ctx, caller, query, limit))

    @search.autocomplete("query")
    async def search_titles(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        try:
            titles = await commands.suggest_titles(ctx, current)
        except PaperbotError:
            return []
        # Choice names and values are capped at 100 characters; untrusted titles are shown as plain text there.
        return [app_commands.Choice(name=title[:100], value=value[:100]) for title, value in titles if title.strip()]

    @group.command(name="today", description="이 채널의 오늘 다이제스트 (가장 최근 HF 하루)")
    async def today(interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, lambda caller: commands.today(ctx, caller))

    @group.command(name="top", description="가장 많이 추천받은 논문 (HF 추천 + 이 채널 투표)")
    @app_commands.describe(period="기간: day, week, month")
    @app_commands.choices(
        period=[
            app_commands.Choice(name="day", value="day"),
            app_commands.Choice(name="week", value="week"),
            app_commands.Choice(name="month", value="month"),
        ]
    )
    async def top(interaction: discord.Interaction[Any], period: str | None = None) -> None:
        await respond(interaction, lambda caller: commands.top(ctx, caller, period))

    @group.command(name="show", description="논문 하나와 한국어 요약 (없으면 가져와서 요약)")
    @app_commands.describe(arxiv_id="arXiv ID, 예: 2404.12345")
    async def show(interaction: discord.Interaction[Any], arxiv_id: str) -> None:
        await respond(interaction, lambda caller: commands.show(ctx, caller, arxiv_id))

    @group.command(name="subscribe", description="이 채널에 다이제스트 구독 (채널 관리자)")
    @app_commands.describe(kind="daily 또는 weekly", time="보낼 시각 HH:MM", timezone="시간대, 예: Asia/Seoul")
    @app_commands.choices(
        kind=[app_commands.Choice(name="daily", value="daily"), app_commands.Choice(name="weekly", value="weekly")]
    )
    async def subscribe(
        interaction: discord.Interaction[Any],
        kind: str | None = None,
        time: str | None = None,
        timezone: str | None = None,
    ) -> None:
        await respond(interaction, lambda caller: commands.subscribe(ctx, caller, kind, time, timezone))

    @group.command(name="unsubscribe", description="이 채널의 다이제스트 구독 해지 (채널 관리자)")
    async def unsubscribe(interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, lambda caller: commands.unsubscribe(ctx, caller))

    @group.command(name="config", description="이 채널의 필터 보기·바꾸기 (채널 관리자)")
    @app_commands.describe(
        keywords="포함할 키워드 (쉼표로 구분, '-'는 비우기)",
        exclude="제외할 키워드",
        authors="고정할 저자",
        sources="출처 이름",
        min_upvotes="최소 HF 추천 수",
    )
    async def config(  # noqa: PLR0917 - discord.py maps options to the callback's parameters
        interaction: discord.Interaction[Any],
        keywords: str | None = None,
        exclude: str | None = None,
        authors: str | None = None,
        sources: str | None = None,
        min_upvotes: app_commands.Range[int, 0, 10_000] | None = None,
    ) -> None:
        await respond(
            interaction,
            lambda caller: commands.config(
                ctx,
                caller,
                keywords=keywords,
                exclude=exclude,
                authors=authors,
                sources=sources,
                min_upvotes=min_upvotes,
            ),
            ephemeral=True,
        )

    @group.command(name="status", description="출처 상태, 다음 다이제스트, 요약 백엔드와 오늘 예산")
    async def status(interaction: discord.Interaction[Any]) -> None:
        await respond(interaction, lambda caller: commands.status(ctx, caller), ephemeral=True)

    return group
