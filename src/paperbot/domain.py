"""Domain model: frozen, slotted dataclasses with no I/O.

Everything that crosses a port is one of these. Database ids are ``None`` until a repository stores the object;
repositories hand back copies with ids filled in.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from paperbot.errors import ConfigError

T = TypeVar("T")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of datetime paperbot stores)."""
    return datetime.now(UTC)


class ItemKind(enum.StrEnum):
    """What an item is: a paper (HF Daily Papers, arXiv) or a blog post."""

    PAPER = "paper"
    POST = "post"


class DigestKind(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class RunStatus(enum.StrEnum):
    """Life of a digest run (one per target, kind and day)."""

    PENDING = "pending"
    PUBLISHING = "publishing"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class DeliveryState(enum.StrEnum):
    """Life of one chunk of a digest on one target.

    pending → sending → sent; a sender that cannot tell whether the platform accepted a chunk moves it to
    unknown, and a later pass looks it up on the platform: reconciled (it was posted), back to pending
    (it was not: re-send), or failed.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    UNKNOWN = "unknown"
    RECONCILED = "reconciled"
    FAILED = "failed"


#: Delivery states from which nothing more is sent.
FINAL_DELIVERY_STATES = frozenset({DeliveryState.SENT, DeliveryState.RECONCILED, DeliveryState.FAILED})


@dataclass(frozen=True, slots=True)
class Item:
    """A paper or a blog post as collected from a source.

    ``day`` is the day the item belongs to in digests: for HF Daily Papers the UTC day it was added to
    Daily Papers, for blog posts the UTC day it was published (or first seen).
    """

    source: str
    external_id: str
    kind: ItemKind
    title: str
    url: str
    day: date
    authors: tuple[str, ...] = ()
    abstract: str = ""
    thumbnail_url: str | None = None
    published_at: datetime | None = None
    upvotes: int = 0
    upvotes_captured_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Summary:
    """Korean bullets for one item, with how they were made.

    The cache key is (item_id, input_hash, prompt_version, model): the same input is never paid for twice.
    ``fallback_reason`` is set when the offline summary replaced an LLM answer (why it was rejected).
    """

    item_id: int
    bullets: tuple[str, ...]
    backend: str
    model: str
    prompt_version: str
    input_hash: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    fallback_reason: str | None = None
    created_at: datetime | None = None
    id: int | None = field(default=None, compare=False)
    #: The depth of each bullet (0: top level, 1: under the nearest 0 before it), for a blog post's nested
    #: highlights; empty means every bullet is top level (papers, and every summary made before nesting).
    levels: tuple[int, ...] = ()

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None

    @property
    def outline(self) -> tuple[tuple[int, str], ...]:
        """(depth, bullet) for every bullet, in order: nothing is lost when ``levels`` is short or malformed."""
        levels = self.levels if len(self.levels) == len(self.bullets) else ()
        return tuple(
            (1 if levels and levels[index] == 1 and index > 0 else 0, bullet)
            for index, bullet in enumerate(self.bullets)
        )


class ArticleStatus(enum.StrEnum):
    """What fetching a post's page gave: its main text, or the reason the excerpt stands in for it."""

    OK = "ok"
    FALLBACK = "fallback"


class BlockKind(enum.StrEnum):
    """One block of an article's main text as the extractor kept it."""

    HEADING = "heading"
    PARAGRAPH = "paragraph"
    ITEM = "item"
    ROW = "row"
    QUOTE = "quote"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class ArticleBlock:
    """A heading (``level`` 1-6), a paragraph, a list item (``level`` its nesting, 0 outermost), a table row
    (cells joined by `` | ``), a quotation or a code block."""

    kind: BlockKind
    text: str
    level: int = 0


#: Where a post handed to a summariser carries its article's blocks (``[kind, level, text]`` lists).
ARTICLE_EXTRA = "article"


@dataclass(frozen=True, slots=True)
class Article:
    """The main text of a blog post's page, fetched once and stored with the item (re-summarising never re-fetches).

    ``status`` FALLBACK: the page failed, was paywalled or too short (``reason`` says which); the excerpt stands in.
    ``etag``/``last_modified`` are the page's validators for a conditional re-fetch.
    """

    item_id: int
    url: str
    status: ArticleStatus
    blocks: tuple[ArticleBlock, ...] = ()
    reason: str | None = None
    extractor: str = ""
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = None

    @property
    def usable(self) -> bool:
        return self.status is ArticleStatus.OK and bool(self.blocks)

    @property
    def text(self) -> str:
        """The blocks' text, one per line (what the gate checks facts against)."""
        return "\n".join(block.text for block in self.blocks)


@dataclass(frozen=True, slots=True)
class SourceState:
    """Health and conditional-GET state of one configured source."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None


#: The chat platforms whose channels are delivery targets (stored subscriptions, runs and votes).
PLATFORMS = ("discord", "slack")
#: Discord channel ids are snowflakes (decimal integers); Slack's are C… (channel), G… (private), D… (DM).
_CHANNEL_ID_RULES = {"discord": re.compile(r"^[0-9]{1,20}$"), "slack": re.compile(r"^[CGD][A-Z0-9]{2,}$")}
_CHANNEL_ID_MESSAGES = {
    "discord": "Discord 채널 ID는 숫자여야 합니다.",
    "slack": "Slack 채널 ID 형식이 아닙니다 (예: C0123456789).",
}


@dataclass(frozen=True, slots=True)
class Target:
    """Where a digest goes: a platform and one of its channels, validated once (``discord:123``)."""

    platform: str
    channel_id: str

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ConfigError(
                f"invalid target platform {self.platform!r}: use discord:CHANNEL_ID or slack:CHANNEL_ID",
                user_message="대상은 discord:채널ID 또는 slack:채널ID 형식이어야 합니다.",
            )
        if not _CHANNEL_ID_RULES[self.platform].match(self.channel_id):
            raise ConfigError(
                f"invalid {self.platform} channel id {self.channel_id!r}",
                user_message=_CHANNEL_ID_MESSAGES[self.platform],
            )

    @classmethod
    def parse(cls, value: str) -> Target:
        """``discord:123`` → ``Target("discord", "123")``; a :class:`ConfigError` names what is wrong."""
        platform, sep, channel = value.strip().partition(":")
        if not sep or not channel.strip():
            raise ConfigError(
                f"invalid target {value!r}: use discord:CHANNEL_ID or slack:CHANNEL_ID",
                user_message="대상은 discord:채널ID 또는 slack:채널ID 형식이어야 합니다.",
            )
        return cls(platform, channel.strip())

    def __str__(self) -> str:
        return f"{self.platform}:{self.channel_id}"


@dataclass(frozen=True, slots=True)
class DigestRun:
    """The database's record that a digest for (target, kind, day) exists; unique, so it is built once."""

    target: str
    kind: DigestKind
    day: date
    status: RunStatus = RunStatus.PENDING
    created_at: datetime | None = None
    finished_at: datetime | None = None
    note: str | None = None
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One chunk (message) of a digest run on one target, with its state machine."""

    run_id: int
    target: str
    chunk: int
    state: DeliveryState = DeliveryState.PENDING
    item_id: int | None = None
    platform_message_id: str | None = None
    attempts: int = 0
    last_error: str | None = None
    updated_at: datetime | None = None
    id: int | None = field(default=None, compare=False)
    #: What this row delivers, stored when the run was claimed (None on rows written before chunks were stored).
    content: OutboundChunk | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class OutboundChunk:
    """One message of a rendered digest: a JSON-ready platform payload, the item it presents (None for headers)
    and the reactions the bot adds under it (vote buttons). Stored with its delivery row when a run is claimed."""

    payload: Mapping[str, Any] = field(hash=False)
    item_id: int | None = None
    reactions: tuple[str, ...] = ()
    #: Index of the chunk whose message this one replies to (Slack threads); publishing fills ``thread_id`` with
    #: that message's id before sending or looking this chunk up (None if the parent could not be posted).
    thread_of: int | None = None
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class PostRef:
    """Where a chunk landed on a platform."""

    platform: str
    channel_id: str
    message_id: str
    chunk: int


@dataclass(frozen=True, slots=True)
class Vote:
    """One reaction by one (hashed) voter on one message. ``value`` is +1 or -1."""

    platform: str
    message_id: str
    voter_hash: str
    emoji: str
    value: int
    channel_id: str | None = None
    item_id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelFilters:
    """Per-channel digest filters set with ``/paper config``."""

    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    min_upvotes: int = 0


#: "HH:MM" (or "H:MM") on a 24-hour clock, ASCII digits only.
_HHMM_RE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def parse_hhmm(value: str) -> dt.time:
    """The one "HH:MM" parser: ``"9:05"`` → ``time(9, 5)``; ValueError for anything else."""
    match = _HHMM_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a HH:MM time: {value!r}")
    return dt.time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True)
class Subscription:
    """A channel that receives digests of one kind at a local time in a timezone.

    ``weekday`` (0 = Monday) only matters for weekly digests.
    """

    platform: str
    channel_id: str
    kind: DigestKind = DigestKind.DAILY
    workspace_id: str | None = None
    time: str = "09:00"
    timezone: str = "Asia/Seoul"
    weekday: int = 0
    filters: ChannelFilters = field(default_factory=ChannelFilters)
    enabled: bool = True
    broken_reason: str | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def target(self) -> str:
        """The delivery target name, e.g. ``discord:1234``."""
        return f"{self.platform}:{self.channel_id}"

    @property
    def at(self) -> dt.time:
        """The local time of day of its slot (``time`` parsed)."""
        return parse_hhmm(self.time)

    @property
    def active(self) -> bool:
        """Enabled and not marked broken: the scheduler posts to it."""
        return self.enabled and not self.broken_reason


@dataclass(frozen=True, slots=True)
class LlmUsage:
    """Tokens and cost of one LLM call, for the daily budget and the metrics."""

    day: date
    backend: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    item_id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UsageTotals:
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Stored(Generic[T]):
    """What a write returns: the stored object and whether this call created it.

    When two writers race on a uniqueness constraint, the loser gets ``created=False`` and the winner's row,
    never an exception.
    """

    value: T
    created: bool


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One item in a digest, with its summary (if any), rank, topics and why it was included."""

    item: Item
    rank: int
    summary: Summary | None = None
    reason: str = ""
    topics: tuple[str, ...] = ()
    team_votes: int = 0
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class DigestSection:
    """A titled group of entries (papers, blog posts, or a topic in the weekly digest)."""

    title: str
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """A built digest for one day (or week ending on ``day``), ready for the renderers."""

    kind: DigestKind
    day: date
    sections: tuple[DigestSection, ...] = ()
    offline: bool = False
    empty_reason: str | None = None
    #: First day covered (the week's first day for weekly digests; ``day`` itself for daily ones).
    start_day: date | None = None
    #: The delivery target it was built for (``discord:123``), or None for console/markdown.
    target: str | None = None
    #: Papers the HF day (or week) had before ranking cut them (a daily digest shows the top 10 of these).
    total_papers: int = 0
    #: The web archive's page of this day or week (``PAPERBOT_WEB_BASE_URL``), linked from the digest header.
    archive_url: str | None = None
    #: Sources whose latest collection failed, so the digest can say what it may be missing.
    failed_sources: tuple[str, ...] = ()

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        return tuple(entry for section in self.sections for entry in section.entries)

    @property
    def is_empty(self) -> bool:
        return not any(section.entries for section in self.sections)


class SearchMatch(enum.StrEnum):
    """How a search hit matched: every query word, some of them, or a substring of the text (partial words)."""

    ALL = "all"
    ANY = "any"
    SUBSTRING = "substring"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One item found by a search, best first; ``score`` is comparable only within one tier of ``match``."""

    item: Item
    score: float
    match: SearchMatch = SearchMatch.ALL


@dataclass(frozen=True, slots=True)
class UpvotePoint:
    """Hugging Face upvotes of one paper as captured at one time (the web archive draws them over time)."""

    captured_at: datetime
    upvotes: int


@dataclass(frozen=True, slots=True)
class ChannelVotes:
    """Reaction votes on one item in one channel: counts only (voters are hashed and never shown)."""

    platform: str
    channel_id: str | None
    up: int
    down: int

    @property
    def net(self) -> int:
        return self.up - self.down


@dataclass(frozen=True, slots=True)
class RankedItem:
    """An item with the sum of its team votes (every channel), as the archive's "what the team liked" lists it."""

    item: Item
    team_votes: int
    #: Its topics as stored under the taxonomy version the caller asked for (None: not stored, or stored by another).
    topics: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ListedItem:
    """What a listing ranks an item by, without its text: a week's page ranks hundreds of these and reads the whole
    item only for the few it shows.

    ``backlog``: a post's ``extra["backlog"]`` mark (seen on a feed's first fetch; papers never are one). ``topics``
    as in :class:`RankedItem`.
    """

    id: int
    source: str
    external_id: str
    kind: ItemKind
    day: date
    upvotes: int
    published_at: datetime | None
    backlog: bool
    team_votes: int
    topics: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SourceActivity:
    """What one source has brought: items since a day, and the newest item's day (for spotting silent drift)."""

    name: str
    recent_items: int
    last_day: date | None
