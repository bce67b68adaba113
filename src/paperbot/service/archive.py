"""Read-only use cases behind the web archive: a whole HF day, a week's best-of, one item, search, what the team
liked, the sources' health.

Every page is a frozen dataclass of domain objects, ready for any renderer; no page writes. Listings reuse the
digest's pure builders, so a day's page ranks its papers exactly as the digest does, only without the cut, and
counts the votes of every channel (the archive belongs to the whole team, not to one channel).

Topics: a week's page ranks and charts hundreds of items, and assigning their topics from the abstracts took most
of its time. They are stored with the items under the taxonomy version (:class:`TopicKeeper` stores every missing or
stale one when the archive starts, and whatever a page had to assign itself later); a page reads the stored ones and
assigns the others itself with the same function, so a page is the same whether they were stored or not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from paperbot.digest.build import OFFLINE_BACKEND, KnownTopics, build_daily, build_weekly
from paperbot.digest.links import week_days
from paperbot.digest.ranking import DEFAULT_POLICY, RankingPolicy
from paperbot.digest.topics import OTHER, TAXONOMY_VERSION, TOPICS, assign_item_topics, item_topics
from paperbot.domain import (
    ChannelVotes,
    Digest,
    DigestEntry,
    Item,
    ItemKind,
    ListedItem,
    RankedItem,
    SourceActivity,
    SourceState,
    Summary,
    UpvotePoint,
)
from paperbot.errors import StoreError
from paperbot.ports import Repository
from paperbot.service.search import NO_QUERY, NO_RESULTS, results_of

#: A day's page: every paper, ranked as digests rank them.
ALL_PAPERS = replace(DEFAULT_POLICY, top_n=None)
SEARCH_PER_PAGE = 20
SEARCH_MAX_PAGES = 20
MAX_QUERY_CHARS = 200
TOP_LIMIT = 30
TOP_MAX_DAYS = 365
#: Sources are judged on their items of this many days (the usual gap between new items).
ACTIVITY_DAYS = 90
#: A source that answers but brings nothing new for this many times its usual gap (and at least MIN_DRIFT_DAYS)
#: has probably changed its layout in a way the parser does not notice ("silent drift").
DRIFT_FACTOR = 4
MIN_DRIFT_DAYS = 14
#: Items per read-assign-store step of the topic backfill (a few milliseconds of the event loop each).
TOPIC_BATCH = 250

logger = logging.getLogger("paperbot.archive")


# --- stored topics ----------------------------------------------------------------------------------------------


async def store_missing_topics(repository: Repository, *, batch: int = TOPIC_BATCH) -> int:
    """Assign and store the topics of every item whose topics are not stored under the current taxonomy version
    (new since the last run, or stored by another version); returns how many were stored."""
    stored = 0
    after = 0
    while items := await repository.items_needing_topics(TAXONOMY_VERSION, after_id=after, limit=batch):
        topics = {item.id: assign_item_topics(item.title, item.abstract, item.extra) for item in items if item.id}
        stored += await repository.save_topics(TAXONOMY_VERSION, topics)
        after = max(item.id or 0 for item in items)
        await asyncio.sleep(0)  # let the pages run between batches
    return stored


class TopicKeeper:
    """Keeps the archive's stored topics complete, beside the pages: first every missing or stale item
    (:func:`store_missing_topics`), then the topics pages had to assign themselves (items collected since), handed
    over with :meth:`note`. Pages never wait for it. A database the archive may not write to (a read-only role)
    costs one warning; pages then keep assigning topics themselves."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._pending: dict[int, tuple[str, ...]] = {}
        self._wake = asyncio.Event()
        self._failing = False

    def note(self, topics: Mapping[int, tuple[str, ...]]) -> None:
        """Topics a page assigned because none were stored: store them soon."""
        if topics:
            self._pending.update(topics)
            self._wake.set()

    async def run(self) -> None:
        """Backfill, then store what pages note, until cancelled."""
        try:
            stored = await store_missing_topics(self._repository)
            if stored:
                logger.info("stored the topics of %d items (taxonomy %s)", stored, TAXONOMY_VERSION)
        except StoreError as exc:
            self._failed(exc)
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, {}
            try:
                await self._repository.save_topics(TAXONOMY_VERSION, pending)
                self._failing = False
            except StoreError as exc:
                self._failed(exc)

    def _failed(self, exc: StoreError) -> None:
        if not self._failing:
            logger.warning("cannot store item topics (pages assign them themselves): %s", exc)
        self._failing = True


def _known_topics(
    stored: Iterable[tuple[int, tuple[str, ...] | None]], items: Mapping[int, Item], keeper: TopicKeeper | None
) -> dict[int, tuple[str, ...]]:
    """Per item id its stored topics, or the topics assigned here (from ``items``) and noted to ``keeper``."""
    known: dict[int, tuple[str, ...]] = {}
    assigned: dict[int, tuple[str, ...]] = {}
    for item_id, topics in stored:
        if topics is not None:
            known[item_id] = topics
        elif (item := items.get(item_id)) is not None:
            assigned[item_id] = known[item_id] = item_topics(item.title, item.abstract, item.extra)
    if keeper is not None:
        keeper.note(assigned)
    return known


def is_extractive(summary: Summary | None) -> bool:
    """True when the summary was made by the offline summariser (sentences picked from the abstract)."""
    return summary is not None and summary.backend == OFFLINE_BACKEND


@dataclass(frozen=True, slots=True)
class DayPage:
    """One HF day: every paper (ranked as the digest ranks, votes of every channel) and the day's blog posts."""

    day: date
    papers: tuple[DigestEntry, ...]
    posts: tuple[DigestEntry, ...]
    previous_day: date | None
    next_day: date | None

    @property
    def extractive(self) -> int:
        """How many of the page's summaries are extractive (offline)."""
        return sum(1 for entry in (*self.papers, *self.posts) if is_extractive(entry.summary))


async def latest_day(repository: Repository) -> date | None:
    """The day the front page shows: the newest HF day with papers, else the newest day with anything."""
    return await repository.latest_day(kind=ItemKind.PAPER) or await repository.latest_day()


def _split_votes(ranked: Sequence[RankedItem]) -> tuple[list[Item], dict[int, int]]:
    votes = {r.item.id: r.team_votes for r in ranked if r.item.id is not None and r.team_votes}
    return [r.item for r in ranked], votes


async def _summaries(repository: Repository, items: Iterable[Item]) -> dict[int, Summary]:
    ids = [item.id for item in items if item.id is not None]
    return await repository.latest_summaries(ids) if ids else {}


def _post_entries(
    posts: Sequence[Item], summaries: Mapping[int, Summary], votes: Mapping[int, int], topics: KnownTopics
) -> tuple[DigestEntry, ...]:
    newest_first = sorted(
        posts, key=lambda p: (p.published_at or datetime(1970, 1, 1, tzinfo=UTC), p.id or 0), reverse=True
    )
    return tuple(
        DigestEntry(
            item=item,
            rank=rank,
            summary=summaries.get(item.id or 0),
            topics=topics.get(item.id or 0) or item_topics(item.title, item.abstract, item.extra),
            team_votes=votes.get(item.id or 0, 0),
            score=float(votes.get(item.id or 0, 0)),
        )
        for rank, item in enumerate(newest_first, start=1)
    )


async def day_page(repository: Repository, day: date, *, keeper: TopicKeeper | None = None) -> DayPage:
    """Every paper of the HF day ``day`` and every blog post dated that day (including posts that were seen as a
    feed's backlog and never posted: the archive holds everything collected)."""
    ranked_items, (previous_day, next_day) = await asyncio.gather(
        repository.items_with_votes(day_from=day, day_to=day, topics_version=TAXONOMY_VERSION),
        repository.neighbour_days(day),
    )
    every, votes = _split_votes(ranked_items)
    by_id = {item.id: item for item in every if item.id is not None}
    topics = _known_topics(((r.item.id or 0, r.topics) for r in ranked_items), by_id, keeper)
    papers = [item for item in every if item.kind is ItemKind.PAPER]
    posts = [item for item in every if item.kind is ItemKind.POST]
    summaries = await _summaries(repository, every)
    ranked = build_daily(day, papers, summaries=summaries, team_votes=votes, policy=ALL_PAPERS, known_topics=topics)
    return DayPage(
        day=day,
        papers=ranked.entries,
        posts=_post_entries(posts, summaries, votes, topics),
        previous_day=previous_day,
        next_day=next_day,
    )


# --- week -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicBar:
    """One topic of a week: how many papers it had, the team's votes and HF upvotes on them."""

    topic: str
    papers: int
    team_votes: int
    hf_upvotes: int


@dataclass(frozen=True, slots=True)
class WeekPage:
    """An ISO week: its weekly best-of (as the weekly digest builds it) and papers and votes by topic."""

    monday: date
    sunday: date
    digest: Digest
    topics: tuple[TopicBar, ...]
    papers: int
    previous_week: date | None
    next_week: date | None


def topic_bars(
    papers: Iterable[Item], votes: Mapping[int, int], known: KnownTopics | None = None
) -> tuple[TopicBar, ...]:
    """Papers per primary topic (the one a weekly digest groups them under), in the taxonomy's order; ``known``:
    topics already known per item id."""
    counts: dict[str, list[int]] = {}
    for item in papers:
        topics = (known or {}).get(item.id or 0) or item_topics(item.title, item.abstract, item.extra)
        bar = counts.setdefault(topics[0] if topics else OTHER, [0, 0, 0])
        bar[0] += 1
        bar[1] += votes.get(item.id or 0, 0)
        bar[2] += item.upvotes
    return tuple(TopicBar(topic, *counts[topic]) for topic in TOPICS if topic in counts)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _ranking_stand_in(row: ListedItem) -> Item:
    """An item as ranking without filters reads it (no text): every entry the page shows gets its whole item."""
    return Item(
        source=row.source,
        external_id=row.external_id,
        kind=row.kind,
        title="",
        url="",
        day=row.day,
        published_at=row.published_at,
        upvotes=row.upvotes,
        extra={"backlog": True} if row.backlog else {},
        id=row.id,
    )


async def week_page(
    repository: Repository,
    monday: date,
    *,
    policy: RankingPolicy = DEFAULT_POLICY,
    keeper: TopicKeeper | None = None,
) -> WeekPage:
    """The ISO week starting on ``monday``: the weekly digest of its seven days and the topic picture.

    The week's items are ranked from their listing (no text, stored topics); only the entries shown are read whole,
    with their summaries (and the items without stored topics, to assign them)."""
    first, last = week_days(monday)
    listed, (before, after) = await asyncio.gather(
        repository.listed_items(day_from=first, day_to=last, topics_version=TAXONOMY_VERSION),
        repository.neighbour_days(first, last=last),
    )
    unassigned = [row.id for row in listed if row.topics is None]
    whole = await repository.items_with_summaries(unassigned) if unassigned else {}
    topics = _known_topics(
        ((row.id, row.topics) for row in listed), {i: item for i, (item, _) in whole.items()}, keeper
    )
    votes = {row.id: row.team_votes for row in listed if row.team_votes}
    every = [_ranking_stand_in(row) for row in listed]
    papers = [item for item in every if item.kind is ItemKind.PAPER]
    posts = [item for item in every if item.kind is ItemKind.POST]
    digest = build_weekly(last, papers, posts, team_votes=votes, policy=policy, known_topics=topics)
    shown = [entry.item.id for entry in digest.entries if entry.item.id is not None and entry.item.id not in whole]
    if shown:
        whole |= await repository.items_with_summaries(shown)
    sections = tuple(
        replace(
            section,
            entries=tuple(
                replace(e, item=whole[e.item.id][0], summary=whole[e.item.id][1])
                for e in section.entries
                if e.item.id in whole  # an item deleted meanwhile is left out
            ),
        )
        for section in digest.sections
    )
    offline = any(is_extractive(entry.summary) for section in sections for entry in section.entries)
    digest = replace(digest, sections=sections, offline=offline)
    return WeekPage(
        monday=first,
        sunday=last,
        digest=digest,
        topics=topic_bars(papers, votes, topics),
        papers=len(papers),
        previous_week=_monday(before) if before else None,
        next_week=_monday(after) if after else None,
    )


# --- one item ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemPage:
    item: Item
    summary: Summary | None
    topics: tuple[str, ...]
    history: tuple[UpvotePoint, ...]
    channels: tuple[ChannelVotes, ...]

    @property
    def team_votes(self) -> int:
        return sum(channel.net for channel in self.channels)

    @property
    def extractive(self) -> bool:
        return is_extractive(self.summary)


async def item_page(repository: Repository, item_id: int) -> ItemPage | None:
    item, summaries, history, channels = await asyncio.gather(  # read-only transactions, side by side
        repository.get_item(item_id),
        repository.latest_summaries([item_id]),
        repository.upvote_history(item_id),
        repository.channel_votes(item_id),
    )
    if item is None:
        return None
    return ItemPage(
        item=item,
        summary=summaries.get(item_id),
        topics=item_topics(item.title, item.abstract, item.extra),
        history=tuple(history),
        channels=tuple(channels),
    )


# --- search -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results; ``notice`` (trusted Korean) when there is nothing to show."""

    query: str
    entries: tuple[DigestEntry, ...]
    page: int
    has_next: bool
    notice: str | None = None


def clamp_page(page: int | None) -> int:
    return max(1, min(page or 1, SEARCH_MAX_PAGES))


async def search_page(
    repository: Repository,
    query: str,
    *,
    page: int = 1,
    since: date | None = None,
    sources: Sequence[str] | None = None,
    kind: ItemKind | None = None,
    per_page: int = SEARCH_PER_PAGE,
) -> SearchPage:
    """The same search as ``/paper search`` (every channel's votes), ``per_page`` results from page ``page``."""
    query = query.strip()[:MAX_QUERY_CHARS]
    page = clamp_page(page)
    if not query:
        return SearchPage(query="", entries=(), page=page, has_next=False, notice=NO_QUERY)
    offset = (page - 1) * per_page
    hits = await repository.search_items(query, limit=offset + per_page + 1, day_from=since, sources=sources, kind=kind)
    shown = hits[offset : offset + per_page]
    if not shown:
        return SearchPage(query=query, entries=(), page=page, has_next=False, notice=NO_RESULTS)
    results = await results_of(repository, shown)
    entries = tuple(
        DigestEntry(
            item=result.item,
            rank=offset + n,
            summary=result.summary,
            topics=item_topics(result.item.title, result.item.abstract, result.item.extra),
            team_votes=result.team_votes,
            score=result.score,
        )
        for n, result in enumerate(results, start=1)
    )
    return SearchPage(query=query, entries=entries, page=page, has_next=len(hits) > offset + per_page)


# --- what the team liked ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopPage:
    days: int
    first: date
    last: date
    entries: tuple[DigestEntry, ...]

    @property
    def voted(self) -> bool:
        return any(entry.team_votes for entry in self.entries)


def clamp_days(days: int | None) -> int:
    return max(1, min(days or 7, TOP_MAX_DAYS))


async def top_page(
    repository: Repository, *, days: int, today: date, policy: RankingPolicy = DEFAULT_POLICY
) -> TopPage:
    """Papers and posts of the last ``days`` days up to ``today`` by HF upvotes plus weighted team votes (every
    channel): the ranking of ``/paper top``."""
    days = clamp_days(days)
    first = today - timedelta(days=days - 1)
    ranked = await repository.top_items(
        day_from=first, day_to=today, vote_weight=policy.channel_vote_weight, limit=TOP_LIMIT
    )
    summaries = await _summaries(repository, (r.item for r in ranked))
    entries = tuple(
        DigestEntry(
            item=r.item,
            rank=rank,
            summary=summaries.get(r.item.id or 0),
            topics=item_topics(r.item.title, r.item.abstract, r.item.extra),
            team_votes=r.team_votes,
            score=r.item.upvotes + policy.channel_vote_weight * r.team_votes,
        )
        for rank, r in enumerate(ranked, start=1)
    )
    return TopPage(days=days, first=first, last=today, entries=entries)


# --- sources ----------------------------------------------------------------------------------------------------


def source_health(state: SourceState | None, degraded_after: int) -> str:
    """``unknown`` (never tried), ``ok``, ``failing`` (the last attempt failed) or ``degraded`` (it keeps failing)."""
    if state is None or state.last_attempt_at is None:
        return "unknown"
    if state.consecutive_failures >= degraded_after:
        return "degraded"
    return "failing" if state.consecutive_failures else "ok"


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    configured: bool
    health: str
    state: SourceState | None
    activity: SourceActivity
    #: Days since the newest item when that is far beyond the source's usual gap (None: no sign of drift).
    quiet_days: int | None = None
    usual_gap_days: float | None = None


def _drift(activity: SourceActivity, state: SourceState | None, today: date) -> tuple[int | None, float | None]:
    gap = ACTIVITY_DAYS / activity.recent_items if activity.recent_items else None
    if activity.last_day is None or state is None or state.last_success_at is None:
        return None, gap
    quiet = (today - activity.last_day).days
    threshold = max(MIN_DRIFT_DAYS, DRIFT_FACTOR * gap) if gap is not None else ACTIVITY_DAYS
    return (quiet if quiet > threshold else None), gap


async def sources_page(
    repository: Repository, names: Sequence[str], *, today: date, degraded_after: int
) -> tuple[SourceHealth, ...]:
    """Each configured source (then any source that is stored but no longer configured) with its health: last
    success, consecutive failures, last error, and silent drift (answers, but nothing new for far too long)."""
    states = {state.name: state for state in await repository.list_source_states()}
    every = list(dict.fromkeys([*names, *sorted(states)]))
    activity = await repository.source_activity(every, since=today - timedelta(days=ACTIVITY_DAYS))
    rows = []
    for name in every:
        state = states.get(name)
        seen = activity.get(name, SourceActivity(name, 0, None))
        quiet, gap = _drift(seen, state, today)
        rows.append(
            SourceHealth(
                name=name,
                configured=name in names,
                health=source_health(state, degraded_after),
                state=state,
                activity=seen,
                quiet_days=quiet,
                usual_gap_days=gap,
            )
        )
    return tuple(rows)
