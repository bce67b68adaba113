"""Reaction votes on digest messages (platform-neutral; Discord and Slack share it).

A vote is one reaction by one voter on one message we posted as a digest chunk about an item. Voters arrive
already hashed (the platform adapter owns the key); the store's uniqueness on (platform, message, voter, emoji)
makes a repeated event harmless. Reactions on other messages, on headers, or with emojis that are not votes are
ignored.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from paperbot.domain import Vote
from paperbot.ports import DeliveryRepository, VoteRepository

#: Default vote reactions and their values.
DEFAULT_VOTE_EMOJIS: Mapping[str, int] = {"👍": 1, "👎": -1}


class VoteOutcome(enum.StrEnum):
    COUNTED = "counted"
    REMOVED = "removed"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"  # removal of a vote never counted
    IGNORED = "ignored"  # not a vote emoji, not our message, or a header


class VoteStore(DeliveryRepository, VoteRepository, Protocol):
    """What counting votes needs from the store."""


@dataclass(frozen=True, slots=True)
class Reaction:
    """A reaction event as the platform adapter saw it (voter already hashed)."""

    platform: str
    channel_id: str
    message_id: str
    voter_hash: str
    emoji: str
    added: bool


async def record_reaction(
    repository: VoteStore,
    reaction: Reaction,
    *,
    vote_emojis: Mapping[str, int] = DEFAULT_VOTE_EMOJIS,
) -> VoteOutcome:
    """Count (or uncount) one reaction on a digest message."""
    value = vote_emojis.get(reaction.emoji)
    if value is None:
        return VoteOutcome.IGNORED
    target = f"{reaction.platform}:{reaction.channel_id}"
    delivery = await repository.find_delivery_by_message(target, reaction.message_id)
    if delivery is None or delivery.item_id is None:
        return VoteOutcome.IGNORED
    if not reaction.added:
        removed = await repository.remove_vote(
            reaction.platform, reaction.message_id, reaction.voter_hash, reaction.emoji
        )
        return VoteOutcome.REMOVED if removed else VoteOutcome.NOT_FOUND
    vote = Vote(
        platform=reaction.platform,
        message_id=reaction.message_id,
        voter_hash=reaction.voter_hash,
        emoji=reaction.emoji,
        value=value,
        channel_id=reaction.channel_id,
        item_id=delivery.item_id,
    )
    return VoteOutcome.COUNTED if await repository.add_vote(vote) else VoteOutcome.DUPLICATE


async def sync_message_votes(
    repository: VoteStore,
    *,
    platform: str,
    channel_id: str,
    message_id: str,
    present: Collection[tuple[str, str]],
    vote_emojis: Mapping[str, int] = DEFAULT_VOTE_EMOJIS,
) -> tuple[int, int]:
    """Make the stored votes of one digest message equal the reactions the platform shows now.

    ``present`` holds (voter_hash, emoji) pairs read back from the platform (bots already left out). Votes cast
    while we were away are added, votes withdrawn while we were away are removed. Returns (added, removed);
    (0, 0) for a message that is not a digest item.
    """
    target = f"{platform}:{channel_id}"
    delivery = await repository.find_delivery_by_message(target, message_id)
    if delivery is None or delivery.item_id is None:
        return 0, 0
    wanted = {(voter, emoji) for voter, emoji in present if emoji in vote_emojis}
    stored = {(vote.voter_hash, vote.emoji) for vote in await repository.list_votes(platform, message_id)}
    added = removed = 0
    for voter, emoji in sorted(wanted - stored):
        vote = Vote(
            platform=platform,
            message_id=message_id,
            voter_hash=voter,
            emoji=emoji,
            value=vote_emojis[emoji],
            channel_id=channel_id,
            item_id=delivery.item_id,
        )
        added += await repository.add_vote(vote)
    for voter, emoji in sorted(stored - wanted):
        removed += await repository.remove_vote(platform, message_id, voter, emoji)
    return added, removed
