"""The long-running Discord bot: ``/paper`` slash commands and reaction votes over the gateway.

Intents: guilds and guild reactions only (no privileged intent: no message content, no members, no presences).
Votes come from the *raw* reaction events, so reactions on messages posted before a restart (not in the cache)
count too; the bot's own reactions never count. Voter ids are stored as HMAC-SHA256 under a per-install key.
At start the reactions of the digest messages the database knows (recent runs of active subscriptions) are read
back one message at a time, so votes cast while the bot was down count (:mod:`paperbot.service.votes`).

The command tree is synced only when its JSON changed since the last successful sync (or by
``paperbot discord sync``); a failed sync is logged and the bot serves on with the commands Discord already has.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import aiohttp
import discord
from discord import app_commands

from paperbot.domain import Delivery
from paperbot.errors import PaperbotError
from paperbot.platforms.discord.api import PLATFORM, make_client_options
from paperbot.platforms.discord.invite import REQUIRED_PERMISSIONS
from paperbot.platforms.discord.render import reply_messages
from paperbot.service import commands
from paperbot.service.answers import Answer, answer
from paperbot.service.commands import Caller, CommandContext, CommandError, Reply, require_admin
from paperbot.service.votes import (
    DEFAULT_VOTE_EMOJIS,
    RECONCILE_DAYS,
    Present,
    Reaction,
    ReconcileResult,
    VoteOutcome,
    VoterHasher,
    base_emoji,
    reconcile_votes,
    record_reaction,
    sync_message_votes,
    vote_value,
)

log = logging.getLogger(__name__)

#: Guild events and reactions only; nothing privileged.
INTENTS = discord.Intents(guilds=True, guild_reactions=True)
#: How long the record "this command JSON was synced" is kept: a sync at least this often, even unchanged.
COMMANDS_MARK_TTL = timedelta(days=30)
#: How long the record is held while a sync is under way (longer than the two-minute 429 wait).
COMMANDS_SYNC_TTL = timedelta(minutes=10)
_DISCORD_ERRORS = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError)

#: Korean names (as Discord's Korean client shows them) of the permissions a digest channel needs: the invite's
#: (:data:`REQUIRED_PERMISSIONS`), plus SEND_MESSAGES_IN_THREADS in a thread or forum post. Permissions
#: (developers/topics/permissions): SEND_MESSAGES "does not allow sending messages in threads"; Create Reaction and
#: Get Channel Message both require READ_MESSAGE_HISTORY; ADD_REACTIONS for the vote buttons.
PERMISSION_LABELS: Mapping[str, str] = {
    "view_channel": "채널 보기",
    "read_messages": "채널 보기",  # discord.py's name for VIEW_CHANNEL when iterating
    "send_messages": "메시지 보내기",
    "embed_links": "링크 첨부",
    "add_reactions": "반응 추가하기",
    "read_message_history": "메시지 기록 보기",
    "send_messages_in_threads": "스레드에서 메시지 보내기",
}


def discord_hasher(key: bytes) -> VoterHasher:
    """The voter hasher of Discord: ``discord:<user id>`` under the install's key."""
    return VoterHasher(key, PLATFORM)


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


def missing_post_permissions(interaction: discord.Interaction[Any]) -> list[str]:
    """Korean names of what the bot lacks to post digests here, from the interaction's ``app_permissions``
    ("bitwise set of permissions the app has in the source location of the interaction", overwrites included).

    In a thread (a forum post is one) "SEND_MESSAGES is not inherited; users must have SEND_MESSAGES_IN_THREADS
    to send a message in a thread".
    """
    granted = interaction.app_permissions
    needed = [name for name, value in REQUIRED_PERMISSIONS if value]
    if isinstance(interaction.channel, discord.Thread):
        needed = [name for name in needed if name != "send_messages"] + ["send_messages_in_threads"]
    return [PERMISSION_LABELS.get(name, name) for name in needed if not getattr(granted, name)]


def permissions_message(missing: Sequence[str]) -> str:
    return (
        f"봇에게 이 채널 권한이 없어 구독하지 않았습니다: {', '.join(missing)}. "
        "채널 설정 → 권한에서 paperbot 역할에 허용한 뒤 다시 /paper subscribe 해 주세요."
    )


def commands_hash(tree: app_commands.CommandTree[Any]) -> str:
    """SHA-256 of the command JSON ``tree.sync()`` would send (the same ``to_dict`` payload, keys sorted)."""
    payload = [command.to_dict(tree) for command in tree.get_commands()]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class DiscordVoteReader:
    """Reads the votes digest messages show now, one ``GET /channels/{c}/messages/{m}`` per item message.

    Get Channel Message "requires the VIEW_CHANNEL and READ_MESSAGE_HISTORY permissions": without them it answers
    403, and a deleted message 404 (Unknown Message, 10008). Both are *unknown* (None), never "no votes".
    """

    platform = PLATFORM

    def __init__(self, client: discord.Client, hasher: VoterHasher, vote_emojis: Mapping[str, int]) -> None:
        self._client = client
        self._hash = hasher
        self._vote_emojis = vote_emojis

    async def read_votes(self, channel_id: str, run: Sequence[Delivery]) -> dict[str, Present | None]:
        shown: dict[str, Present | None] = {}
        for delivery in run:
            if delivery.item_id is not None and delivery.platform_message_id:
                shown[delivery.platform_message_id] = await self.read_message(channel_id, delivery.platform_message_id)
        return shown

    async def read_message(self, channel_id: str, message_id: str) -> Present | None:
        me = self._client.user
        channel = self._client.get_partial_messageable(int(channel_id))
        try:
            message = await channel.fetch_message(int(message_id))
            present: list[tuple[str, str]] = []
            for reaction in message.reactions:
                emoji = str(reaction.emoji)
                if vote_value(emoji, self._vote_emojis) is None or reaction.count <= (1 if reaction.me else 0):
                    continue
                async for user in reaction.users():
                    if (me is not None and user.id == me.id) or user.bot:
                        continue
                    present.append((self._hash(user.id), emoji))
        except _DISCORD_ERRORS as exc:
            log.warning(
                "cannot read votes back",
                extra={"channel": channel_id, "message_id": message_id, "error": f"{type(exc).__name__}: {exc}"},
            )
            return None
        return present


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
        self.hash_voter = discord_hasher(voter_key)
        self.vote_emojis = dict(vote_emojis)
        self.sync_commands = sync_commands
        self.reconcile_days = reconcile_days
        self.votes = DiscordVoteReader(self, self.hash_voter, self.vote_emojis)
        self._reconciled = False
        #: The background command sync started at login (tests await it), once started.
        self.command_sync: asyncio.Task[str] | None = None
        self.tree: app_commands.CommandTree[DiscordPlatform] = app_commands.CommandTree(self)
        self.tree.add_command(paper_group(self))

    async def setup_hook(self) -> None:
        """Sync the command tree in the background: ``setup_hook`` runs inside ``login``, before the gateway
        connects, and a 429 up to ``max_ratelimit_timeout`` (two minutes) is waited out there. The commands
        Discord already has keep working meanwhile; only a changed tree waits for the sync."""
        if self.sync_commands:
            self.command_sync = asyncio.create_task(self.sync_command_tree(), name="discord-command-sync")

    async def close(self) -> None:
        task = self.command_sync
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await super().close()

    async def sync_command_tree(self, *, force: bool = False) -> str:
        """Sync the command tree when its JSON changed (or ``force``): "synced", "unchanged" or "failed".

        Never raises: a failed sync (a 400, or a 429 longer than the client waits, which discord.py raises as
        ``RateLimited``) is logged, and the bot keeps serving with the commands Discord already has. Restarting over
        it would spend IDENTIFYs ("Clients are limited to 1000 IDENTIFY calls to the websocket in a 24-hour period
        … Upon hitting this limit … the bot token will be reset"), and command creates are limited too ("200
        application command creates per day, per guild").

        Which JSON was synced is recorded as a lease named after its hash, held by no running instance (the one
        shared, atomic set-if-absent record every backend has): taken for :data:`COMMANDS_SYNC_TTL` while syncing,
        so a second instance starting meanwhile skips, and extended to :data:`COMMANDS_MARK_TTL` only once Discord
        took the JSON. A failed or interrupted sync gives it back; a process killed mid-sync leaves it to expire.
        """
        digest = commands_hash(self.tree)
        mark = f"discord-commands:{self.application_id}:{digest[:32]}"
        holder = f"synced:{uuid.uuid4().hex}"
        repository = self.context.repository
        try:
            fresh = await repository.acquire_lease(mark, holder, COMMANDS_SYNC_TTL)
        except PaperbotError as exc:
            log.error("command sync skipped: cannot read the sync record", extra={"error": str(exc)})
            return "failed"
        if not fresh and not force:
            log.info("command tree unchanged: not synced", extra={"commands_hash": digest[:12]})
            return "unchanged"
        try:
            synced = await self.tree.sync()
        except asyncio.CancelledError:  # shutting down while waiting out a 429: not synced
            if fresh:
                await self._forget_sync(mark, holder)
            raise
        except _DISCORD_ERRORS as exc:
            log.error(
                "command sync failed; serving with the commands Discord already has",
                extra={"error": f"{type(exc).__name__}: {exc}", "commands_hash": digest[:12]},
            )
            if fresh:
                await self._forget_sync(mark, holder)  # so the next start tries again
            return "failed"
        log.info("command tree synced", extra={"commands": len(synced), "commands_hash": digest[:12]})
        if fresh:
            try:
                await repository.acquire_lease(mark, holder, COMMANDS_MARK_TTL)
            except PaperbotError as exc:  # the short mark then expires and a later start syncs again: harmless
                log.warning("cannot record the command sync", extra={"error": str(exc)})
        return "synced"

    async def _forget_sync(self, mark: str, holder: str) -> None:
        try:
            await self.context.repository.release_lease(mark, holder)
        except PaperbotError:
            log.warning("cannot clear the command sync record", extra={"mark": mark})

    async def on_ready(self) -> None:
        if not self._reconciled:
            self._reconciled = True
            result = await self.reconcile_votes()
            log.info("discord ready", extra={"reconciled_votes": result.added, "withdrawn": result.removed})

    # --- votes ------------------------------------------------------------------------------------------------

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.handle_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.handle_reaction(payload, added=False)

    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        """MESSAGE_REACTION_REMOVE_ALL: "all reactions were explicitly removed from a message": no vote stands."""
        await self.handle_clear(payload.channel_id, payload.message_id, emoji=None)

    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        """MESSAGE_REACTION_REMOVE_EMOJI: "all reactions for a given emoji were explicitly removed"."""
        await self.handle_clear(payload.channel_id, payload.message_id, emoji=str(payload.emoji))

    async def handle_clear(self, channel_id: int, message_id: int, *, emoji: str | None) -> int:
        """Withdraw the votes a cleared reaction carried; returns the votes removed.

        Clearing one emoji clears one skin tone (👍🏽 is its own reaction on Discord) while a vote is stored under
        the base emoji, so the message is read back and that vote emoji synced to what is still shown; if it
        cannot be read, the cleared emoji's votes are withdrawn.
        """
        if emoji is not None and vote_value(emoji, self.vote_emojis) is None:
            return 0
        present: Present = ()
        only = None
        if emoji is not None:
            only = base_emoji(emoji)
            present = await self.votes.read_message(str(channel_id), str(message_id)) or ()
        try:
            _, removed = await sync_message_votes(
                self.context.repository,
                platform=PLATFORM,
                channel_id=str(channel_id),
                message_id=str(message_id),
                present=present,
                vote_emojis=self.vote_emojis,
                only_emoji=only,
            )
        except PaperbotError:
            log.exception("cannot withdraw cleared votes", extra={"message_id": str(message_id)})
            return 0
        return removed

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
            if not added and await self._still_voting(reaction):
                return VoteOutcome.DUPLICATE  # another skin tone of the same vote is still there
            return await record_reaction(self.context.repository, reaction, vote_emojis=self.vote_emojis)
        except PaperbotError:
            log.exception("cannot record a vote", extra={"message_id": str(payload.message_id)})
            return VoteOutcome.IGNORED

    async def _still_voting(self, reaction: Reaction) -> bool:
        """After a removal: does the voter still show the same vote in another skin tone (👍 and 👍🏽 are two
        reactions on Discord, one stored vote)? Read back only for digest items; unreadable means no."""
        vote = vote_value(reaction.emoji, self.vote_emojis)
        if vote is None:
            return False
        target = f"{PLATFORM}:{reaction.channel_id}"
        delivery = await self.context.repository.find_delivery_by_message(target, reaction.message_id)
        if delivery is None or delivery.item_id is None:
            return False
        shown = await self.votes.read_message(reaction.channel_id, reaction.message_id) or ()
        return any(voter == reaction.voter_hash and base_emoji(emoji) == vote[0] for voter, emoji in shown)

    async def reconcile_votes(self) -> ReconcileResult:
        """Read back the votes of the digest messages the database knows (see :func:`reconcile_votes`)."""
        try:
            return await reconcile_votes(
                self.context.repository,
                self.votes,
                today=self.context.now().date(),
                days=self.reconcile_days,
                vote_emojis=self.vote_emojis,
            )
        except PaperbotError as exc:
            log.warning("cannot reconcile votes", extra={"error": str(exc)})
            return ReconcileResult()


# --- /paper -------------------------------------------------------------------------------------------------------


async def respond(
    interaction: discord.Interaction[Any], run: Callable[[Caller], Awaitable[Reply]], *, ephemeral: bool = False
) -> None:
    """Acknowledge at once (defer), run the use case, answer; errors become a short ephemeral Korean message.

    The answer *edits the deferred response* ("Edit Original Interaction Response"): a follow-up sent right after
    a DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE only "functions as Edit Original Interaction Response for backwards
    compatibility … This behavior is deprecated"). Further messages of a long answer are follow-ups. A private
    answer to a public defer cannot edit it ("an existing message's ephemeral state cannot be changed"): the
    public "thinking…" message is deleted and the answer sent as ephemeral follow-ups.
    """
    await interaction.response.defer(ephemeral=ephemeral, thinking=True)
    caller = caller_of(interaction)
    result = await answer(lambda: run(caller), command=_command_name(interaction))
    await send_answer(interaction, result, deferred_ephemeral=ephemeral)


def _command_name(interaction: discord.Interaction[Any]) -> str:
    command = interaction.command
    return command.qualified_name if command is not None else ""


async def send_answer(interaction: discord.Interaction[Any], result: Answer, *, deferred_ephemeral: bool) -> None:
    reply = result.reply
    messages = reply_messages(reply)
    try:
        if reply.ephemeral and not deferred_ephemeral:
            await interaction.delete_original_response()
            for message in messages:
                await interaction.followup.send(ephemeral=True, **message)
            return
        first, *rest = messages
        await interaction.edit_original_response(**first)
        for message in rest:
            await interaction.followup.send(ephemeral=deferred_ephemeral, **message)
    except _DISCORD_ERRORS as exc:
        log.warning(
            "cannot answer the interaction",
            extra={
                "interaction": str(interaction.id),
                "error": f"{type(exc).__name__}: {exc}",
                "failed": result.failed,
            },
        )


async def subscribe_here(
    interaction: discord.Interaction[Any],
    ctx: CommandContext,
    caller: Caller,
    *,
    kind: str | None,
    time: str | None,
    timezone: str | None,
) -> Reply:
    """``/paper subscribe`` after checking that the bot can post, react and read back here."""
    require_admin(caller)
    missing = missing_post_permissions(interaction)
    if missing:
        raise CommandError(
            f"missing permissions in {caller.target}: {missing}", user_message=permissions_message(missing)
        )
    return await commands.subscribe(ctx, caller, kind, time, timezone)


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
        await respond(
            interaction,
            lambda caller: subscribe_here(interaction, ctx, caller, kind=kind, time=time, timezone=timezone),
        )

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
