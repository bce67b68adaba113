"""Reaction votes on digest messages (platform-neutral; Discord and Slack share it).

A vote is one reaction by one voter on one message we posted as a digest chunk about an item. Voters arrive
already hashed (:class:`VoterHasher`, one per platform adapter, keyed per install); the store's uniqueness on
(platform, message, voter, emoji) makes a repeated event harmless. Reactions on other messages, on headers, or
with emojis that are not votes are ignored. Skin-tone variants (👍🏽) are the base emoji's vote on every platform.

Reconciling (votes cast or withdrawn while the bot was away) starts from what the database knows: the delivered
chunks of each active subscription's recent digest runs. The platform adapter (a :class:`VoteReader`) reads the
reactions those messages show now; a message it cannot read is *unknown* and its stored votes stay as they are.
Nothing is searched for in a channel history (Discord's ``after=`` iterates oldest-first, so a capped history read
never reaches the newest days; without READ_MESSAGE_HISTORY it is silently empty).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from paperbot.domain import Delivery, DeliveryState, DigestKind, Vote
from paperbot.ports import DeliveryRepository, EventRepository, SubscriptionRepository, VoteRepository

log = logging.getLogger(__name__)

#: Default vote reactions and their values.
DEFAULT_VOTE_EMOJIS: Mapping[str, int] = {"👍": 1, "👎": -1}
#: Emoji modifiers Fitzpatrick type-1-2 … type-6 (U+1F3FB–U+1F3FF): Unicode TR51 §2.4 "skin tone modifiers".
#: Discord sends the modified emoji as its own reaction ("👍🏽" ≠ "👍"); Slack names it ``thumbsup::skin-tone-4``.
SKIN_TONES = frozenset(chr(code) for code in range(0x1F3FB, 0x1F400))
#: U+FE0F (emoji presentation selector) some clients append; it does not make another emoji.
_VARIATION_SELECTOR = "\ufe0f"
#: Days of digest runs whose messages are read back at start.
RECONCILE_DAYS = 7
#: Delivery states of a chunk that is on the platform (posted, or found there after an unknown outcome).
_POSTED = frozenset({DeliveryState.SENT, DeliveryState.RECONCILED})

#: (voter_hash, emoji) pairs shown on one message now.
Present = Collection[tuple[str, str]]


class VoteOutcome(enum.StrEnum):
    COUNTED = "counted"
    REMOVED = "removed"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"  # removal of a vote never counted
    IGNORED = "ignored"  # not a vote emoji, not our message, or a header


class VoteStore(DeliveryRepository, VoteRepository, Protocol):
    """What counting votes needs from the store."""


class ReconcileStore(VoteStore, SubscriptionRepository, EventRepository, Protocol):
    """What reconciling needs: votes, deliveries and the subscriptions whose channels are read back (and the
    processed-event record live events are deduplicated with)."""


#: The namespace of each platform's voter key, as first deployed (Discord's predates the platform part). Changing
#: one would re-key every voter hash, so stored votes would no longer be recognised as the same voter's.
VOTER_KEY_NAMESPACES: Mapping[str, bytes] = {"discord": b"paperbot-votes:", "slack": b"paperbot-votes:slack:"}


def voter_key(platform: str, secret: str | None, identity: str) -> bytes:
    """The per-install HMAC key of ``platform``'s voter hashes (the one derivation; the CLI and runners call it).

    From the per-install secret (``PAPERBOT_VOTE_SALT``) when set; otherwise from ``identity``, something of the
    install that survives a token rotation (Discord: the bot user id part of the token; Slack: ``team:user`` from
    ``auth.test``), and the hashes are then keyed but not secret.
    """
    basis = secret if secret else identity
    if not basis:
        raise ValueError("a voter key needs the install's secret or its identity")
    return hashlib.sha256(VOTER_KEY_NAMESPACES[platform] + basis.encode()).digest()


class VoterHasher:
    """Voter id → HMAC-SHA256 hex (first 32 characters) under a per-install key; the raw id is never stored.

    The message is ``"<platform>:<part>:<part>…"`` (Discord: the user id; Slack: team id and user id), so the same
    person never hashes alike on two platforms.
    """

    def __init__(self, key: bytes, platform: str) -> None:
        if len(key) < 16:
            raise ValueError("the voter key must be at least 16 bytes")
        self._key = key
        self.platform = platform

    def __call__(self, *parts: str | int) -> str:
        message = ":".join([self.platform, *(str(part) for part in parts)])
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()[:32]


def base_emoji(emoji: str) -> str:
    """The emoji without skin-tone modifiers or presentation selectors: ``👍🏽`` → ``👍``."""
    return "".join(char for char in emoji.strip() if char not in SKIN_TONES and char != _VARIATION_SELECTOR)


def vote_value(emoji: str, vote_emojis: Mapping[str, int] = DEFAULT_VOTE_EMOJIS) -> tuple[str, int] | None:
    """(stored emoji, value) when ``emoji`` (any skin tone) is a vote, else None."""
    base = base_emoji(emoji)
    value = vote_emojis.get(base)
    return None if value is None else (base, value)


@dataclass(frozen=True, slots=True)
class Reaction:
    """A reaction event as the platform adapter saw it (voter already hashed)."""

    platform: str
    channel_id: str
    message_id: str
    voter_hash: str
    emoji: str
    added: bool


async def _item_delivery(repository: VoteStore, platform: str, channel_id: str, message_id: str) -> Delivery | None:
    delivery = await repository.find_delivery_by_message(f"{platform}:{channel_id}", message_id)
    return None if delivery is None or delivery.item_id is None else delivery


async def record_reaction(
    repository: VoteStore,
    reaction: Reaction,
    *,
    vote_emojis: Mapping[str, int] = DEFAULT_VOTE_EMOJIS,
) -> VoteOutcome:
    """Count (or uncount) one reaction on a digest message."""
    vote = vote_value(reaction.emoji, vote_emojis)
    if vote is None:
        return VoteOutcome.IGNORED
    emoji, value = vote
    delivery = await _item_delivery(repository, reaction.platform, reaction.channel_id, reaction.message_id)
    if delivery is None or delivery.item_id is None:
        return VoteOutcome.IGNORED
    if not reaction.added:
        removed = await repository.remove_vote(reaction.platform, reaction.message_id, reaction.voter_hash, emoji)
        return VoteOutcome.REMOVED if removed else VoteOutcome.NOT_FOUND
    stored = Vote(
        platform=reaction.platform,
        message_id=reaction.message_id,
        voter_hash=reaction.voter_hash,
        emoji=emoji,
        value=value,
        channel_id=reaction.channel_id,
        item_id=delivery.item_id,
    )
    return VoteOutcome.COUNTED if await repository.add_vote(stored) else VoteOutcome.DUPLICATE


async def sync_message_votes(
    repository: VoteStore,
    *,
    platform: str,
    channel_id: str,
    message_id: str,
    present: Present,
    vote_emojis: Mapping[str, int] = DEFAULT_VOTE_EMOJIS,
    only_emoji: str | None = None,
) -> tuple[int, int]:
    """Make the stored votes of one digest message equal the reactions the platform shows now.

    ``present`` holds (voter_hash, emoji) pairs read back from the platform (bots already left out; emojis in any
    skin tone). Votes cast while we were away are added, votes withdrawn while we were away are removed; with
    ``only_emoji`` only that vote emoji's votes are touched. Returns (added, removed); (0, 0) for a message that is
    not a digest item.
    """
    delivery = await _item_delivery(repository, platform, channel_id, message_id)
    if delivery is None or delivery.item_id is None:
        return 0, 0
    wanted: set[tuple[str, str]] = set()
    for voter, emoji in present:
        known = vote_value(emoji, vote_emojis)
        if known is not None:
            wanted.add((voter, known[0]))
    stored = {(vote.voter_hash, vote.emoji) for vote in await repository.list_votes(platform, message_id)}
    if only_emoji is not None:
        wanted = {pair for pair in wanted if pair[1] == only_emoji}
        stored = {pair for pair in stored if pair[1] == only_emoji}
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


# --- reconcile ----------------------------------------------------------------------------------------------------


class VoteReader(Protocol):
    """A platform adapter that reads back the reactions digest messages show now."""

    @property
    def platform(self) -> str: ...

    async def read_votes(self, channel_id: str, run: Sequence[Delivery]) -> Mapping[str, Present | None]:
        """For the posted chunks of one digest run (header included, in chunk order), the (voter_hash, emoji) pairs
        each item message shows now, keyed by message id, bots left out. ``None`` (or a missing key) means "could
        not read it": its stored votes are left alone. Raises nothing: failures are logged and read as unknown."""
        ...


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    """What one read-back changed: votes added and removed, item messages read and left unknown."""

    added: int = 0
    removed: int = 0
    messages: int = 0
    unknown: int = 0


async def recent_runs_deliveries(
    repository: DeliveryRepository, target: str, *, since: date, kind: DigestKind = DigestKind.DAILY
) -> list[list[Delivery]]:
    """The posted chunks (with message ids) of ``target``'s digest runs from ``since`` on, newest run first."""
    runs: list[list[Delivery]] = []
    before: date | None = None
    while True:
        run = await repository.last_run(target, kind, before=before)
        if run is None or run.day < since or run.id is None:
            return runs
        posted = sorted(
            (d for d in await repository.list_deliveries(run.id) if d.state in _POSTED and d.platform_message_id),
            key=lambda d: d.chunk,
        )
        if posted:
            runs.append(posted)
        before = run.day


async def reconcile_votes(
    repository: ReconcileStore,
    reader: VoteReader,
    *,
    today: date,
    days: int = RECONCILE_DAYS,
    vote_emojis: Mapping[str, int] = DEFAULT_VOTE_EMOJIS,
) -> ReconcileResult:
    """Read back the votes of every digest item message posted in the last ``days`` days to active subscriptions
    of ``reader.platform`` (newest run first) and make the stored votes match."""
    since = today - timedelta(days=days)
    channels = sorted(
        {
            s.channel_id
            for s in await repository.list_subscriptions(platform=reader.platform)
            if s.enabled and not s.broken_reason
        }
    )
    added = removed = messages = unknown = 0
    for channel_id in channels:
        target = f"{reader.platform}:{channel_id}"
        for run in await recent_runs_deliveries(repository, target, since=since):
            items = [d for d in run if d.item_id is not None]
            if not items:
                continue
            shown = await reader.read_votes(channel_id, run)
            for delivery in items:
                message_id = str(delivery.platform_message_id)
                present = shown.get(message_id)
                if present is None:
                    unknown += 1
                    continue
                messages += 1
                plus, minus = await sync_message_votes(
                    repository,
                    platform=reader.platform,
                    channel_id=channel_id,
                    message_id=message_id,
                    present=present,
                    vote_emojis=vote_emojis,
                )
                added += plus
                removed += minus
    result = ReconcileResult(added, removed, messages, unknown)
    log.info(
        "votes reconciled",
        extra={"platform": reader.platform, "added": added, "removed": removed, "messages": messages,
               "unknown": unknown},
    )  # fmt: skip
    return result
