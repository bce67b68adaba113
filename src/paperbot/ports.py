"""Ports: the Protocols the use cases depend on. Implementations live in adapters; fakes in tests.

The repository is split by concern (each Protocol small); ``Repository`` is all of them together, which is what
``SqlRepository`` and ``InMemoryRepository`` implement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from paperbot.domain import (
    Article,
    ChannelVotes,
    Delivery,
    DeliveryState,
    Digest,
    DigestKind,
    DigestRun,
    Item,
    ItemKind,
    ListedItem,
    LlmUsage,
    OutboundChunk,
    RankedItem,
    RunStatus,
    SearchHit,
    SourceActivity,
    SourceState,
    Stored,
    Subscription,
    Summary,
    UpvotePoint,
    UsageTotals,
    Vote,
)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch of a source brought back.

    ``not_modified`` is a 304 (nothing new, not a failure). ``etag``/``last_modified`` are the validators to store
    for the next conditional GET. ``skipped`` counts malformed entries that were logged and left out.
    ``not_ready`` means the source answered but the day is still filling (HF: empty or one paper early in the day).
    """

    items: list[Item] = field(default_factory=list)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    skipped: int = 0
    not_ready: bool = False


class Source(Protocol):
    """Something that yields items for a day (HF Daily Papers, a blog feed, a scraper).

    ``state`` carries the stored conditional-GET validators and tells a feed whether this is its first fetch
    (``last_success_at is None``): then it marks all but its newest few entries ``extra["backlog"] = True``.
    Failures raise :class:`paperbot.errors.SourceError` (``ParseError`` for layout drift).
    """

    name: str
    #: Papers (HF Daily Papers: collected several times a day, one HF day at a time) or posts (blogs).
    kind: ItemKind

    async def fetch(self, day: date, *, state: SourceState | None = None) -> FetchResult: ...

    async def fetch_one(self, external_id: str) -> Item | None:
        """One item by id (HF: ``/api/papers/{id}``); None when unknown or the source cannot look items up."""
        ...


class ArticleSource(Protocol):
    """Fetches a blog post's own page and extracts its main text (issue 17). Never raises for a bad page: the
    article comes back with status FALLBACK and the reason, and the excerpt stands in."""

    async def fetch_article(self, item: Item, previous: Article | None = None) -> Article: ...


class Summarizer(Protocol):
    """Turns an item into Korean bullets (LLM back-ends or the offline extractive one).

    ``summarize`` never drops an item: a back-end whose answer fails validation returns the offline summary with
    ``fallback_reason`` set. ``cache_key`` is (input_hash, prompt_version, model), so a caller can look a stored
    summary up before paying for a new one; ``fallback`` is the offline summary without any model call (used when
    the daily budget is spent).
    """

    @property
    def backend(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def daily_budget_usd(self) -> float | None: ...

    def cache_key(self, item: Item) -> tuple[str, str, str]: ...

    async def summarize(self, item: Item) -> Summary: ...

    async def fallback(self, item: Item, reason: str) -> Summary: ...


class ChunkSender(Protocol):
    """The publishing port: one per enabled chat platform, built once per process by the composition root.

    It checks its credentials, renders a digest into chunks (messages) for its platform, posts one chunk, finds one
    posted earlier and decorates a posted one (vote reactions). ``paperbot.service.publish`` owns the delivery state
    machine around it.
    """

    @property
    def platform(self) -> str: ...

    async def ready(self) -> None:
        """Log in / check the token, once per process (later calls return at once); publishing calls it before a
        pass, so a rejected token is found before any chunk is attempted.

        Raises ``ConfigError`` when the platform rejects the credentials, ``DeliveryError`` when it cannot be reached.
        """
        ...

    def render(self, digest: Digest) -> list[OutboundChunk]:
        """The platform's rendering of ``digest`` as chunks, in posting order."""
        ...

    async def send(self, channel_id: str, chunk: OutboundChunk, *, key: str) -> str:
        """Post ``chunk`` with idempotency ``key``; return the platform's message id.

        Raises ``ChannelUnavailableError``, ``OutcomeUnknownError``, ``NotSentError`` or ``ChunkRejectedError``
        (``paperbot.service.publish``).
        """
        ...

    async def find(
        self, channel_id: str, chunk: OutboundChunk, *, key: str, since: datetime | None, known: str | None = None
    ) -> str | None:
        """The message id of ``chunk`` if it was posted (at or after ``since``), else None.

        ``known`` is a message this run certainly posted in the channel (an earlier chunk), when there is one: a
        platform whose history reads as empty without a permission checks with it that "not found" means "not
        posted", and raises ``ChannelUnavailableError`` when it cannot tell.
        """
        ...

    async def decorate(self, channel_id: str, message_id: str, chunk: OutboundChunk) -> None:
        """Finish a posted chunk (add its vote reactions). Idempotent; failures are the sender's to log."""
        ...


class ItemRepository(Protocol):
    async def add_item(self, item: Item) -> Stored[Item]:
        """Insert unless (source, external_id) exists; the existing row comes back with ``created=False``."""
        ...

    async def add_items(self, items: Iterable[Item], *, seen_at: datetime | None = None) -> list[Stored[Item]]:
        """Insert many; new rows record ``seen_at`` (default: now) as the time paperbot first saw them."""
        ...

    async def get_item(self, item_id: int) -> Item | None: ...

    async def find_item(self, source: str, external_id: str) -> Item | None: ...

    async def list_items(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        kind: ItemKind | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Item]:
        """Items with ``day_from <= day <= day_to`` (both optional), newest day first, then upvotes."""
        ...

    async def update_upvotes(self, item_id: int, upvotes: int, captured_at: datetime) -> None: ...

    async def list_post_candidates(
        self,
        *,
        day_from: date,
        day_to: date,
        seen_from: datetime,
        seen_until: datetime,
        not_delivered_to: str | None = None,
        except_run_day: date | None = None,
    ) -> list[Item]:
        """Blog posts dated ``day_from..day_to`` or first seen in ``[seen_from, seen_until)``, without those a daily
        digest run of ``not_delivered_to`` (for a day other than ``except_run_day``) has a delivery for."""
        ...


class SummaryRepository(Protocol):
    async def add_summary(self, summary: Summary) -> Stored[Summary]: ...

    async def add_summaries(self, summaries: Sequence[Summary]) -> list[Stored[Summary]]:
        """``add_summary`` of each, in order, in one transaction: all are stored or, on a StoreError, none.
        A cache key given twice is created once (the second comes back with ``created=False``)."""
        ...

    async def find_summary(self, item_id: int, input_hash: str, prompt_version: str, model: str) -> Summary | None: ...

    async def latest_summaries(self, item_ids: Sequence[int]) -> dict[int, Summary]:
        """The newest summary of each item that has one."""
        ...

    async def items_without_summary(self, *, day_from: date | None = None, limit: int | None = None) -> list[Item]: ...


class ArticleRepository(Protocol):
    async def save_article(self, article: Article) -> None:
        """Store or replace the article of ``article.item_id`` (StoreError when there is no such item)."""
        ...

    async def get_articles(self, item_ids: Sequence[int]) -> dict[int, Article]:
        """The stored article of each item that has one."""
        ...


class SourceStateRepository(Protocol):
    async def get_source_state(self, name: str) -> SourceState | None: ...

    async def save_source_state(self, state: SourceState) -> None: ...

    async def list_source_states(self) -> list[SourceState]: ...


class DeliveryRepository(Protocol):
    async def claim_run(self, target: str, kind: DigestKind, day: date) -> Stored[DigestRun]:
        """Create the run for (target, kind, day), or return the existing one with ``created=False``."""
        ...

    async def set_run_status(self, run_id: int, status: RunStatus, *, note: str | None = None) -> None: ...

    async def add_delivery(self, delivery: Delivery) -> Stored[Delivery]: ...

    async def store_chunks(self, run_id: int, deliveries: Sequence[Delivery]) -> Stored[list[Delivery]]:
        """Store a run's rendered chunks (``Delivery.content``, chunk 0 first) at once, if the run has none yet.

        All or nothing: when another writer (or an earlier pass) already stored rows for the run, nothing is
        added and its rows come back with ``created=False``. Every later pass sends from these rows.
        """
        ...

    async def transition_delivery(
        self,
        delivery_id: int,
        *,
        expected: Iterable[DeliveryState],
        new: DeliveryState,
        platform_message_id: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Compare-and-set: move to ``new`` only from one of ``expected``. False when another writer won."""
        ...

    async def list_deliveries(self, run_id: int) -> list[Delivery]: ...

    async def find_delivery_by_message(self, target: str, platform_message_id: str) -> Delivery | None: ...

    async def last_run(self, target: str, kind: DigestKind, *, before: date | None = None) -> DigestRun | None:
        """The newest run of ``target`` and ``kind`` (with ``day < before`` when given), whatever its status."""
        ...


class VoteRepository(Protocol):
    async def add_vote(self, vote: Vote) -> bool:
        """Record a vote; False if this (platform, message, voter, emoji) was already counted."""
        ...

    async def remove_vote(self, platform: str, message_id: str, voter_hash: str, emoji: str) -> bool: ...

    async def list_votes(self, platform: str, message_id: str) -> list[Vote]:
        """Every vote counted on one message (to reconcile with the reactions the platform shows)."""
        ...

    async def vote_totals(self, item_ids: Sequence[int], *, channel_id: str | None = None) -> dict[int, int]:
        """Sum of vote values per item (optionally only votes cast in one channel)."""
        ...


class SubscriptionRepository(Protocol):
    async def save_subscription(self, subscription: Subscription) -> Subscription:
        """Insert or replace the subscription of (platform, channel, kind)."""
        ...

    async def remove_subscription(self, platform: str, channel_id: str, kind: DigestKind | None = None) -> int: ...

    async def list_subscriptions(
        self, *, platform: str | None = None, channel_id: str | None = None, active: bool | None = None
    ) -> list[Subscription]:
        """Subscriptions, optionally of one platform, of one channel, and only the active ones (enabled and not
        marked broken: ``active=True``) or only the others (``active=False``)."""
        ...


class EventRepository(Protocol):
    async def mark_event_processed(self, platform: str, event_id: str) -> bool:
        """True the first time an inbound event id is seen, False for retries and duplicates."""
        ...


class UsageRepository(Protocol):
    async def record_usage(self, usage: LlmUsage) -> None: ...

    async def usage_totals(self, day: date) -> UsageTotals: ...


class SearchRepository(Protocol):
    async def search_items(
        self,
        query: str,
        *,
        limit: int = 10,
        day_from: date | None = None,
        sources: Sequence[str] | None = None,
        kind: ItemKind | None = None,
    ) -> list[SearchHit]:
        """Items matching ``query`` (Korean or English, any user input), best first; never raises on odd input.

        Tiers: items matching every query word (ranked bm25 / ts_rank), then items matching some, then substring
        matches of the query words (partial words). Titles, abstracts, the latest summary's bullets, authors and
        HF keywords are indexed; the index is kept in step by ``add_items`` and ``add_summary``.
        """
        ...

    async def reindex_search(self) -> int:
        """Rebuild every item's search document (after changing the Korean analyser); returns how many."""
        ...


class LeaseRepository(Protocol):
    async def acquire_lease(self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` from ``now``: True when ``holder`` holds it afterwards.

        Succeeds when nobody holds it, when ``holder`` already does (a renewal), or when the lease has expired
        (a takeover). Atomic across processes.
        """
        ...

    async def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up (only if ``holder`` holds it), so a standby need not wait for it to expire."""
        ...


class ArchiveRepository(Protocol):
    """Read-only queries of the web archive (each one indexed: pages stay fast at 100,000 items)."""

    async def latest_day(self, *, kind: ItemKind | None = None) -> date | None:
        """The newest day that has an item (of ``kind``), or None when nothing is stored."""
        ...

    async def neighbour_days(
        self, day: date, *, kind: ItemKind | None = None, last: date | None = None
    ) -> tuple[date | None, date | None]:
        """The nearest day before ``day`` and the nearest after ``last`` (default ``day``) that have an item."""
        ...

    async def upvote_history(self, item_id: int) -> list[UpvotePoint]:
        """HF upvotes as captured over time, oldest first (the current value is the last point)."""
        ...

    async def channel_votes(self, item_id: int) -> list[ChannelVotes]:
        """Reaction votes on the item per (platform, channel): counts only, most votes first."""
        ...

    async def items_with_votes(
        self, *, day_from: date, day_to: date, kind: ItemKind | None = None, topics_version: str | None = None
    ) -> list[RankedItem]:
        """``list_items`` of the days, each with its team votes (every channel), in one query; with
        ``topics_version``, each with its topics if they are stored under that version."""
        ...

    async def listed_items(self, *, day_from: date, day_to: date, topics_version: str) -> list[ListedItem]:
        """The items of the days without their text, in ``items_with_votes`` order: what ranking reads, their team
        votes and their topics if stored under ``topics_version``."""
        ...

    async def items_with_summaries(self, item_ids: Sequence[int]) -> dict[int, tuple[Item, Summary | None]]:
        """The items of ``item_ids`` (unknown ids left out), each with its latest summary, in one read."""
        ...

    async def save_topics(self, version: str, topics: Mapping[int, Sequence[str]]) -> int:
        """Store or replace items' topics under taxonomy ``version``; ids of items that no longer exist are skipped.
        Returns how many were stored."""
        ...

    async def items_needing_topics(self, version: str, *, after_id: int = 0, limit: int = 500) -> list[Item]:
        """Up to ``limit`` items with an id above ``after_id`` whose topics are not stored under ``version``, by id."""
        ...

    async def top_items(
        self,
        *,
        day_from: date,
        day_to: date,
        vote_weight: float,
        limit: int,
        kind: ItemKind | None = None,
    ) -> list[RankedItem]:
        """Items of the days by ``upvotes + vote_weight × team votes`` (every channel), best first."""
        ...

    async def source_activity(self, names: Sequence[str], *, since: date) -> dict[str, SourceActivity]:
        """Per source name: its items from ``since`` on and the day of its newest item."""
        ...


class Repository(
    ItemRepository,
    SummaryRepository,
    ArticleRepository,
    SourceStateRepository,
    DeliveryRepository,
    VoteRepository,
    SubscriptionRepository,
    EventRepository,
    UsageRepository,
    SearchRepository,
    LeaseRepository,
    ArchiveRepository,
    Protocol,
):
    """Everything paperbot stores."""

    async def close(self) -> None: ...
