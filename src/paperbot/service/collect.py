"""The collect use case: fetch every source concurrently, store what is new, keep each source's health.

Pure of I/O libraries: sources and the repository are ports. One source failing (an exception, its deadline)
never stops the others; its failure is recorded in its :class:`SourceState` and in the report. Storing is part of
each source's boundary too: a write the database refuses fails that source (or, when single items are the cause,
only those items), never the sources stored after it.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from paperbot.domain import Article, ArticleStatus, Item, ItemKind, SourceState, Stored, utcnow
from paperbot.errors import PaperbotError, StoreError
from paperbot.ports import ArticleSource, FetchResult, Repository, Source

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 120.0
DEFAULT_DEGRADED_AFTER = 3
_ERROR_LIMIT = 500


class SourceStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    NOT_MODIFIED = "not_modified"


@dataclass(frozen=True, slots=True)
class CollectedItem:
    """An item as stored (``item.id`` set), and whether this collect inserted it."""

    item: Item
    new: bool


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    name: str
    status: SourceStatus
    error: str | None = None
    fetched: int = 0
    new: int = 0
    skipped: int = 0
    not_ready: bool = False
    consecutive_failures: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not SourceStatus.FAILED


@dataclass(slots=True)
class ArticleReport:
    """The article-fetch step of one collect: pages fetched, how many gave a usable text, how many fell back to
    the excerpt (by reason), and posts left for a later collect (over the per-collect limit or the deadline)."""

    fetched: int = 0
    ok: int = 0
    fallback: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    deferred: int = 0


@dataclass(frozen=True, slots=True)
class CollectReport:
    day: date
    items: list[CollectedItem] = field(default_factory=list)
    sources: list[SourceOutcome] = field(default_factory=list)
    articles: ArticleReport | None = None

    @property
    def new_items(self) -> list[Item]:
        return [entry.item for entry in self.items if entry.new]

    @property
    def failed(self) -> list[SourceOutcome]:
        return [outcome for outcome in self.sources if outcome.status is SourceStatus.FAILED]

    def outcome(self, name: str) -> SourceOutcome | None:
        return next((outcome for outcome in self.sources if outcome.name == name), None)


def is_degraded(state: SourceState | None, threshold: int = DEFAULT_DEGRADED_AFTER) -> bool:
    """A source is degraded after ``threshold`` consecutive failures (shown by ``paperbot sources``)."""
    return state is not None and state.consecutive_failures >= threshold


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "deadline exceeded"
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, PaperbotError):
        text = f"{type(exc).__name__}: {text}"
    return text[:_ERROR_LIMIT]


async def _fetch(source: Source, day: date, state: SourceState | None, deadline: float) -> FetchResult:
    limit = getattr(source, "deadline", None)
    async with asyncio.timeout(limit if isinstance(limit, int | float) else deadline):
        return await source.fetch(day, state=state)


async def collect(
    repository: Repository,
    sources: Sequence[Source],
    *,
    day: date,
    only: Sequence[str] | None = None,
    now: datetime | None = None,
    deadline: float = DEFAULT_DEADLINE,
    articles: ArticleSource | None = None,
) -> CollectReport:
    """Fetch ``sources`` (or those named in ``only``) for ``day`` and store new items.

    Existing papers get their upvotes refreshed. Per source the report says ok / failed / not_modified, with the
    error; per item whether it was new. ``deadline`` applies to sources that do not carry their own ``deadline``.
    With ``articles``, the posts that may be shown then get their page's main text (:func:`fetch_articles`).
    """
    started = now or utcnow()
    chosen = [source for source in sources if only is None or source.name in only]
    states = {source.name: await repository.get_source_state(source.name) for source in chosen}
    results = await asyncio.gather(
        *(_fetch(source, day, states[source.name], deadline) for source in chosen), return_exceptions=True
    )
    report = CollectReport(day=day)
    for source, result in zip(chosen, results, strict=True):
        state = states[source.name] or SourceState(name=source.name)
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):  # CancelledError, KeyboardInterrupt: not ours to swallow
                raise result
            await _record_failure(repository, report, state, _describe(result), started)
            continue
        try:
            outcome = await _store_result(repository, report, state, result, started)
        except StoreError as exc:
            await _record_failure(repository, report, state, f"storing failed: {_describe(exc)}", started)
            continue
        report.sources.append(outcome)
    if articles is not None:
        report = replace(
            report, articles=await fetch_articles(repository, articles, report.items, day=day, now=started)
        )
    return report


#: Pages fetched in one collect at most (newest posts first; the rest wait for the next collect), at once, and
#: the step's deadline as a whole: a slow blog delays the digest by at most this much.
ARTICLE_LIMIT = 20
ARTICLE_CONCURRENCY = 4
ARTICLE_STEP_DEADLINE = 90.0
#: Posts dated this many days before the collected day, or newer, may still be shown (later ones never are).
ARTICLE_WINDOW_DAYS = 3


def article_due(item: Item, stored: Article | None, now: datetime) -> bool:
    """Whether ``item``'s page should be fetched now: never fetched, or only a fallback from an earlier UTC day.

    A usable article is never fetched again (re-summarising reads the stored text), and a page that failed is
    tried at most once a day: article fetching adds at most one request per shown post per day.
    """
    if stored is None:
        return True
    if stored.status is ArticleStatus.OK:
        return False
    return stored.fetched_at is None or stored.fetched_at.date() < now.date()


def _may_be_shown(entry: CollectedItem, day: date) -> bool:
    item = entry.item
    return (
        item.kind is ItemKind.POST
        and item.id is not None
        and not item.extra.get("backlog")  # a feed's first fetch: recorded, never posted, never fetched
        and (entry.new or item.day >= day - timedelta(days=ARTICLE_WINDOW_DAYS))
    )


async def fetch_articles(
    repository: Repository,
    source: ArticleSource,
    collected: Sequence[CollectedItem],
    *,
    day: date,
    now: datetime | None = None,
    limit: int = ARTICLE_LIMIT,
    concurrency: int = ARTICLE_CONCURRENCY,
    deadline: float = ARTICLE_STEP_DEADLINE,
) -> ArticleReport:
    """Fetch and store the article of each collected post that may be shown and is due (:func:`article_due`).

    Never raises for a page or for the database: a failure is logged, and the post keeps its excerpt.
    """
    moment = now or utcnow()
    report = ArticleReport()
    candidates = {entry.item.id: entry.item for entry in collected if _may_be_shown(entry, day)}
    if not candidates:
        return report
    try:
        stored = await repository.get_articles([item_id for item_id in candidates if item_id is not None])
    except StoreError as exc:
        log.error("articles not read; none fetched", extra={"error": _describe(exc)})
        return report
    epoch = datetime.min.replace(tzinfo=moment.tzinfo)
    due = sorted(
        (
            item
            for item_id, item in candidates.items()
            if item_id is not None and article_due(item, stored.get(item_id), moment)
        ),
        key=lambda item: (item.published_at or epoch, item.day),
        reverse=True,
    )
    report.deferred = max(0, len(due) - limit)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: Item) -> None:
        async with gate:
            article = await source.fetch_article(item, stored.get(item.id or 0))
        report.fetched += 1
        if article.status is ArticleStatus.OK:
            report.ok += 1
        else:
            report.fallback += 1
            kind = (article.reason or "unknown").split("(", 1)[0]
            report.reasons[kind] = report.reasons.get(kind, 0) + 1
        try:
            await repository.save_article(replace(article, item_id=item.id or 0))
        except StoreError as exc:
            log.error("article not stored", extra={"item_id": item.id, "error": _describe(exc)})

    tasks = [asyncio.ensure_future(one(item)) for item in due[:limit]]
    try:
        async with asyncio.timeout(deadline):
            results = await asyncio.gather(*tasks, return_exceptions=True)
    except TimeoutError:
        report.deferred += sum(1 for task in tasks if not task.done())
        log.warning("article step passed its deadline", extra={"deadline": deadline, "left": report.deferred})
        return report
    for result in results:
        if isinstance(result, Exception):  # a bug in an adapter: the other posts still get theirs
            log.error("article fetch failed", extra={"error": _describe(result)})
        elif isinstance(result, BaseException):
            raise result
    log.info("articles fetched", extra={"fetched": report.fetched, "ok": report.ok, "fallback": report.fallback})
    return report


async def _record_failure(
    repository: Repository, report: CollectReport, state: SourceState, error: str, started: datetime
) -> None:
    failures = state.consecutive_failures + 1
    try:
        await repository.save_source_state(
            replace(state, last_attempt_at=started, consecutive_failures=failures, last_error=error)
        )
    except StoreError as exc:  # the database itself is failing: the report still says what happened
        log.error("source state not saved", extra={"source": state.name, "error": _describe(exc)})
    log.warning("source failed", extra={"source": state.name, "error": error, "failures": failures})
    report.sources.append(SourceOutcome(state.name, SourceStatus.FAILED, error, consecutive_failures=failures))


async def _store_result(
    repository: Repository, report: CollectReport, state: SourceState, result: FetchResult, started: datetime
) -> SourceOutcome:
    success = replace(
        state,
        etag=result.etag,
        last_modified=result.last_modified,
        last_attempt_at=started,
        last_success_at=started,
        consecutive_failures=0,
        last_error=None,
    )
    if result.not_modified:
        await repository.save_source_state(success)
        return SourceOutcome(state.name, SourceStatus.NOT_MODIFIED)
    stored, refused = await _store(repository, result.items, report, state.name, started)
    # Validators are saved only once the items are stored, so a crash in between re-fetches instead of losing.
    await repository.save_source_state(success)
    outcome = SourceOutcome(
        state.name,
        SourceStatus.OK,
        fetched=len(result.items),
        new=stored,
        skipped=result.skipped + refused,
        not_ready=result.not_ready,
    )
    log.info(
        "source collected",
        extra={"source": state.name, "fetched": outcome.fetched, "new": stored, "skipped": outcome.skipped},
    )
    return outcome


async def _add_each(
    repository: Repository, items: list[Item], source: str, seen_at: datetime
) -> list[tuple[Item, Stored[Item]]]:
    """``add_items`` in one go; when the database refuses the batch, item by item, skipping those it refuses.

    An item refused alone is logged and left out; when every item is refused the database itself is failing,
    and that error fails the source.
    """
    try:
        return list(zip(items, await repository.add_items(items, seen_at=seen_at), strict=True))
    except StoreError as batch_error:
        if len(items) <= 1:
            raise
        first_error = batch_error
    stored: list[tuple[Item, Stored[Item]]] = []
    refused: list[str] = []
    for item in items:
        try:
            stored.extend(zip([item], await repository.add_items([item], seen_at=seen_at), strict=True))
        except StoreError as exc:
            refused.append(item.external_id[:100])
            first_error = exc
    if not stored:
        raise first_error
    log.warning(
        "items refused by the database were skipped",
        extra={"source": source, "refused": len(refused), "ids": refused[:5], "error": _describe(first_error)},
    )
    return stored


async def _store(
    repository: Repository, items: list[Item], report: CollectReport, source: str, seen_at: datetime
) -> tuple[int, int]:
    """Store ``items`` (first seen at ``seen_at``); (how many were new, how many the database refused)."""
    new = 0
    pairs = await _add_each(repository, items, source, seen_at) if items else []
    for fresh, stored in pairs:
        item = stored.value
        if stored.created:
            new += 1
        else:
            item = await _refresh_upvotes(repository, item, fresh)
        report.items.append(CollectedItem(item, stored.created))
    return new, len(items) - len(pairs)


async def _refresh_upvotes(repository: Repository, existing: Item, fresh: Item) -> Item:
    """Papers keep gaining upvotes for days: store the newer count with its capture time."""
    if (
        existing.kind is not ItemKind.PAPER
        or existing.id is None
        or fresh.upvotes == existing.upvotes  # unchanged: skip the write (the stored capture time stays true)
        or fresh.upvotes_captured_at is None
        or (existing.upvotes_captured_at is not None and fresh.upvotes_captured_at <= existing.upvotes_captured_at)
    ):
        return existing
    await repository.update_upvotes(existing.id, fresh.upvotes, fresh.upvotes_captured_at)
    return replace(existing, upvotes=fresh.upvotes, upvotes_captured_at=fresh.upvotes_captured_at)


async def refresh_recent(
    repository: Repository,
    sources: Sequence[Source],
    *,
    today: date,
    days: int,
    only: Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[CollectReport]:
    """Re-collect the last ``days`` days (oldest first) so late-rising papers get their upvotes refreshed.

    Meant for the scheduler, with ``only`` naming the paper sources (blogs have no per-day listing).
    """
    return [
        await collect(repository, sources, day=today - timedelta(days=offset), only=only, now=now)
        for offset in range(days, 0, -1)
    ]


#: Days a backfill fetches at once (the Fetcher's per-host pacing still spaces requests to each host).
DEFAULT_BACKFILL_CONCURRENCY = 4
#: Items a backfill stores per transaction: one multi-row write instead of one per day.
BACKFILL_STORE_BATCH = 1000
#: Batches a backfill stores at once: while one is written, the next is prepared (rows, search documents), so the
#: database's work overlaps the CPU's instead of following it. The repository orders the writes themselves.
BACKFILL_STORES_IN_FLIGHT = 2


async def backfill(
    repository: Repository,
    sources: Sequence[Source],
    days: Sequence[date],
    *,
    only: Sequence[str] | None = None,
    concurrency: int = DEFAULT_BACKFILL_CONCURRENCY,
    on_day: Callable[[CollectReport], None] | None = None,
    now: datetime | None = None,
    deadline: float = DEFAULT_DEADLINE,
) -> list[CollectReport]:
    """Collect a range of past days: one report per day, in the order given.

    Unlike calling :func:`collect` per day, several days are fetched at once while earlier ones are stored, and
    items are written in batches of days, so a long backfill is bound by the network, not by one transaction
    per day. A failed day is reported, never raised. Source health is updated once, at the end: a backfill of
    old days says little about a source's state today, and its validators (ETag) belong to the live feed.
    ``on_day`` is called as each day is stored (e.g. to advance a progress bar).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    started = now or utcnow()
    chosen = [source for source in sources if only is None or source.name in only]
    states = {source.name: await repository.get_source_state(source.name) for source in chosen}
    reports = {day: CollectReport(day=day) for day in days}
    gate = asyncio.Semaphore(concurrency)

    async def fetch_day(day: date) -> tuple[date, list[FetchResult | BaseException]]:
        async with gate:
            results = await asyncio.gather(
                *(_fetch(source, day, None, deadline) for source in chosen), return_exceptions=True
            )
        return day, list(results)

    pending: list[_Fetched] = []
    succeeded: set[str] = set()
    errors: dict[str, str] = {}
    storing = _StorePipeline(repository, reports, on_day)
    try:
        for next_day in asyncio.as_completed([fetch_day(day) for day in days]):
            day, results = await next_day
            report = reports[day]
            fetched_any = False
            for source, result in zip(chosen, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result
                    errors[source.name] = _describe(result)
                    report.sources.append(SourceOutcome(source.name, SourceStatus.FAILED, errors[source.name]))
                    continue
                succeeded.add(source.name)
                pending.append((report, source, result))
                fetched_any = True
            if not fetched_any and on_day is not None:
                on_day(report)
            if sum(len(result.items) for _, _, result in pending) >= BACKFILL_STORE_BATCH:
                await storing.submit(pending[:])
                pending.clear()
        if pending:
            await storing.submit(pending[:])
        await storing.finish()
    finally:
        await storing.cancel()
    for source in chosen:
        state = states[source.name] or SourceState(name=source.name)
        if source.name in succeeded:
            state = replace(state, last_attempt_at=started, last_success_at=started)
        else:
            state = replace(state, last_attempt_at=started, last_error=errors.get(source.name))
        await repository.save_source_state(state)
    return [reports[day] for day in days]


_Fetched = tuple[CollectReport, Source, FetchResult]


class _StorePipeline:
    """A backfill's stores: up to ``BACKFILL_STORES_IN_FLIGHT`` batches at once, each day reported once stored."""

    def __init__(
        self,
        repository: Repository,
        reports: dict[date, CollectReport],
        on_day: Callable[[CollectReport], None] | None,
    ) -> None:
        self.repository = repository
        self.reports = reports
        self.on_day = on_day
        self.tasks: collections.deque[asyncio.Task[None]] = collections.deque()

    async def _store(self, batch: list[_Fetched]) -> None:
        await _store_batch(self.repository, batch)
        if self.on_day is not None:
            for day in dict.fromkeys(report.day for report, _, _ in batch):
                self.on_day(self.reports[day])

    async def submit(self, batch: list[_Fetched]) -> None:
        """Start storing ``batch``; first wait for the oldest batch if enough are in flight (raising its error)."""
        if len(self.tasks) >= BACKFILL_STORES_IN_FLIGHT:
            await self.tasks.popleft()
        self.tasks.append(asyncio.create_task(self._store(batch)))

    async def finish(self) -> None:
        """Wait for every batch, in order; the first error is raised."""
        while self.tasks:
            await self.tasks.popleft()

    async def cancel(self) -> None:
        """Stop what is still running (after an error or a cancellation), so nothing is left behind."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


async def _store_batch(repository: Repository, batch: Sequence[_Fetched]) -> None:
    """Store the items of several (day, source) fetches with one ``add_items`` and fill each day's report."""
    items = [item for _, _, result in batch for item in result.items]
    stored = iter(await repository.add_items(items))
    for report, source, result in batch:
        new = 0
        for fresh in result.items:
            outcome = next(stored)
            item = outcome.value
            if outcome.created:
                new += 1
            else:
                item = await _refresh_upvotes(repository, item, fresh)
            report.items.append(CollectedItem(item, outcome.created))
        report.sources.append(
            SourceOutcome(
                source.name,
                SourceStatus.OK,
                fetched=len(result.items),
                new=new,
                skipped=result.skipped,
                not_ready=result.not_ready,
            )
        )
