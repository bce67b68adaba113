"""Slack reaction votes: the ``reaction_added`` / ``reaction_removed`` events and reading votes back.

Slack names reactions (``thumbsup``, ``+1``); a skin tone is a suffix (``thumbsup::skin-tone-2``), the same vote.
Events may arrive out of order, so the message's current reactions (``reactions.get``) decide whether the
voter's vote stands; the event is only the trigger. A retried event (same ``event_id``) is processed once.
The counting itself is :mod:`paperbot.service.votes`; this module only turns Slack's shapes into its terms.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from paperbot.domain import Delivery
from paperbot.errors import PaperbotError
from paperbot.platforms.slack.api import PLATFORM, call_with_retry
from paperbot.service.votes import (
    DEFAULT_VOTE_EMOJIS,
    Present,
    Reaction,
    ReconcileStore,
    VoteOutcome,
    VoterHasher,
    record_reaction,
)

log = logging.getLogger(__name__)

#: Slack emoji names → the vote emoji stored (the same as Discord's, so totals mean the same everywhere).
SLACK_VOTE_NAMES: Mapping[str, str] = {"+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎"}
#: Replies read per ``conversations.replies`` call (a digest thread has one reply per item and continuation).
THREAD_LIMIT = 200
SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, OSError, TimeoutError)


def normalize_reaction(name: str) -> str:
    """``thumbsup::skin-tone-2`` → ``thumbsup``; the ``:name:`` form → ``name``."""
    return name.strip().strip(":").split("::", 1)[0]


def vote_emoji(name: str) -> str | None:
    """The stored vote emoji for a Slack reaction name (any skin tone), or None when it is not a vote."""
    return SLACK_VOTE_NAMES.get(normalize_reaction(name))


def slack_hasher(key: bytes) -> VoterHasher:
    """The voter hasher of Slack: ``slack:<team id>:<user id>`` under the install's key."""
    return VoterHasher(key, PLATFORM)


class SlackVotes:
    """Counts reaction events and reads digest messages' votes back (a :class:`~paperbot.service.votes.VoteReader`).

    ``bot_user`` and ``team_id`` are the app's own (``auth.test``): the bot's reactions (its vote buttons) never
    count.
    """

    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, repository: ReconcileStore, hasher: VoterHasher) -> None:
        self.client = client
        self.repository = repository
        self.hash_voter = hasher
        self.bot_user = ""
        self.team_id = ""

    def _is_self(self, user_id: str) -> bool:
        return bool(self.bot_user) and user_id == self.bot_user

    async def handle_reaction(self, event: Mapping[str, Any], body: Mapping[str, Any]) -> VoteOutcome:
        """Count or uncount one reaction event; returns what happened."""
        item = event.get("item") or {}
        user_id = str(event.get("user") or "")
        emoji = vote_emoji(str(event.get("reaction") or ""))
        if item.get("type") != "message" or not user_id or emoji is None or self._is_self(user_id):
            return VoteOutcome.IGNORED
        channel_id = str(item.get("channel") or "")
        ts = str(item.get("ts") or "")
        try:
            delivery = await self.repository.find_delivery_by_message(f"{PLATFORM}:{channel_id}", ts)
            if delivery is None or delivery.item_id is None:
                return VoteOutcome.IGNORED
            event_id = str(body.get("event_id") or "")
            if event_id and not await self.repository.mark_event_processed(PLATFORM, event_id):
                return VoteOutcome.DUPLICATE
            added = event.get("type") == "reaction_added"
            present = await self._reacted_now(channel_id, ts, user_id, emoji)
            team_id = str(body.get("team_id") or self.team_id)
            reaction = Reaction(
                platform=PLATFORM,
                channel_id=channel_id,
                message_id=ts,
                voter_hash=self.hash_voter(team_id, user_id),
                emoji=emoji,
                added=added if present is None else present,
            )
            return await record_reaction(self.repository, reaction, vote_emojis=DEFAULT_VOTE_EMOJIS)
        except PaperbotError:
            log.exception("cannot record a vote", extra={"message_id": ts})
            return VoteOutcome.IGNORED

    async def _reactions(self, channel_id: str, ts: str) -> list[Mapping[str, Any]] | None:
        """The message's reactions with every user (``reactions.get``, ``full=true``); None when unreadable."""
        try:
            response = await call_with_retry(
                lambda: self.client.reactions_get(channel=channel_id, timestamp=ts, full=True),
                max_retries=3,
                max_wait=30,
            )
        except SLACK_ERRORS as exc:
            log.warning("cannot read reactions", extra={"message_id": ts, "error": f"{type(exc).__name__}: {exc}"})
            return None
        message = response.get("message") or {}
        return [r for r in message.get("reactions") or [] if isinstance(r, Mapping)]

    async def _reacted_now(self, channel_id: str, ts: str, user_id: str, emoji: str) -> bool | None:
        """Whether ``user_id`` has a reaction meaning ``emoji`` on the message now (None: cannot tell)."""
        reactions = await self._reactions(channel_id, ts)
        if reactions is None:
            return None
        return any(
            vote_emoji(str(r.get("name") or "")) == emoji and user_id in (r.get("users") or []) for r in reactions
        )

    # --- reading back ----------------------------------------------------------------------------------------

    async def read_votes(self, channel_id: str, run: Sequence[Delivery]) -> dict[str, Present | None]:
        """One ``conversations.replies`` for the header's thread (its replies carry a reaction summary), then one
        ``reactions.get`` per message that shows a vote by someone other than the bot (both Tier 3, "50+ per
        minute"). A message without a vote shown reads as "no votes" without a call; one that cannot be read is
        unknown (None)."""
        items = [d for d in run if d.item_id is not None and d.platform_message_id]
        header = next((d for d in run if d.item_id is None and d.chunk == 0 and d.platform_message_id), None)
        summaries: dict[str, Mapping[str, Any]] = {}
        if header is not None:
            try:
                replies = await call_with_retry(
                    functools.partial(
                        self.client.conversations_replies,
                        channel=channel_id,
                        ts=str(header.platform_message_id),
                        limit=THREAD_LIMIT,
                    )
                )
            except SLACK_ERRORS as exc:
                log.warning(
                    "cannot read a digest thread",
                    extra={"channel": channel_id, "error": f"{type(exc).__name__}: {exc}"},
                )
                return {str(d.platform_message_id): None for d in items}
            summaries = {str(m.get("ts")): m for m in replies.get("messages") or [] if isinstance(m, Mapping)}
        shown: dict[str, Present | None] = {}
        for delivery in items:
            ts = str(delivery.platform_message_id)
            summary = summaries.get(ts)
            if summary is not None and not self._shows_votes(summary):
                shown[ts] = ()  # no vote shown now: any we still count was withdrawn
            else:  # a vote shown, or a message outside the thread read (e.g. posted top-level)
                shown[ts] = await self._present(channel_id, ts)
        return shown

    def _shows_votes(self, message: Mapping[str, Any]) -> bool:
        """Whether the message's reaction summary shows a vote by someone other than the bot."""
        for reaction in message.get("reactions") or []:
            if vote_emoji(str(reaction.get("name") or "")) is None:
                continue
            users = reaction.get("users") or []
            if int(reaction.get("count") or 0) > (1 if self.bot_user in users else 0):
                return True
        return False

    async def _present(self, channel_id: str, ts: str) -> Present | None:
        reactions = await self._reactions(channel_id, ts)
        if reactions is None:
            return None  # cannot tell who reacted: leave the stored votes as they are
        present: list[tuple[str, str]] = []
        for reaction in reactions:
            emoji = vote_emoji(str(reaction.get("name") or ""))
            if emoji is None:
                continue
            present.extend(
                (self.hash_voter(self.team_id, str(user_id)), emoji)
                for user_id in reaction.get("users") or []
                if not self._is_self(str(user_id))
            )
        return present
