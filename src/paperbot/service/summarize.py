"""Use case: summarise every item that has no summary yet, and re-make stale ones when they are about to be shown.

Looks the cache up first (the same input, prompt version and model is never paid for twice, across restarts),
records the tokens and cost of every model call, and when the daily budget is spent gives the rest of the day's
items the offline summary (``fallback_reason="budget"``). An item is never dropped: each one leaves with a summary.

Scale: a fixed pool of ``concurrency`` workers takes the items one at a time, so thousands of pending items (after
``paperbot backfill``) never hold more than ``concurrency`` model calls, nor more than ``concurrency`` database
connections plus the one of the batch being written, at once. Items a
feed's first fetch flagged as backlog are never posted: they get the offline summary without a model call.

Writes: the summaries the workers make are stored in batches (``WRITE_BATCH`` of them, or what ``WRITE_WAIT`` after
the first brought, whichever comes first), one transaction each, not one commit per summary. A crash loses at most
the batch not yet written: its items are simply pending again on the next pass. A batch the database refuses is
written again one summary at a time, so a bad row fails only itself; a summary the database refuses (or any other
StoreError of one item's step, such as the write queue's deadline) leaves that item pending and the run goes on:
the digest is then built with what is stored, as with any other failing part.

Laziness: with ``day_from`` (the digest's window), items whose stored summary no longer matches the summariser
(another prompt version or model, an offline summary where an LLM is now configured, a budget or transport
fallback) are summarised again, so a new prompt reaches the items people see without re-paying for the archive.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from paperbot import korean
from paperbot.domain import Item, ItemKind, LlmUsage, Stored, Summary, utcnow
from paperbot.errors import PaperbotError, StoreError
from paperbot.ports import Repository, Summarizer
from paperbot.summarize.article import attach_article

log = logging.getLogger(__name__)

BUDGET_REASON = "budget"
BACKLOG_REASON = "backlog"
#: Item ids per latest-summary lookup of the refresh (well under every database's bound-parameter limit).
LOOKUP_BATCH = 500
#: Summaries per write transaction, at most.
WRITE_BATCH = 100
#: Seconds a made summary waits for others to share its write transaction (LLM summaries come a few a second).
WRITE_WAIT = 0.25


@dataclass(slots=True)
class SummarizeReport:
    """What one run did. ``summaries`` holds every item's summary (from the cache or new), in the items' order."""

    pending: int = 0
    refreshed: int = 0
    backlog: int = 0
    from_cache: int = 0
    llm: int = 0
    offline: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    budget_exhausted: bool = False
    #: Items whose summary the database did not store (they stay pending for the next pass).
    unsaved: int = 0
    backend: str = ""
    model: str = ""
    summaries: list[Summary] = field(default_factory=list)

    @property
    def offline_mode(self) -> bool:
        """True when every summary of this run is an offline one (the digest then says so)."""
        return bool(self.summaries) and all(summary.backend == "offline" for summary in self.summaries)

    def status(self) -> str:
        """One Korean line for users and operators."""
        if not self.pending:
            return "요약할 새 항목이 없습니다."
        fallback_count = sum(self.fallbacks.values())
        parts = [f"{self.pending}건 요약: LLM {self.llm}건, 캐시 {self.from_cache}건, 오프라인 {self.offline}건"]
        if fallback_count:
            parts.append(f"(그중 오프라인 대체 {fallback_count}건)")
        text = " ".join(parts) + "."
        if self.refreshed:
            text += f" 이 중 {self.refreshed}건은 예전 요약을 새로 만든 것입니다."
        if self.backlog:
            text += f" 게시하지 않는 지난 블로그 글 {self.backlog}건은 LLM 없이 요약했습니다."
        if self.tokens_in or self.tokens_out:
            text += f" 토큰 입력 {self.tokens_in:,}개, 출력 {self.tokens_out:,}개, 비용 ${self.cost_usd:.4f}."
        if self.budget_exhausted:
            text += " 오늘 LLM 예산을 모두 써서 나머지는 오프라인 요약으로 만들었습니다."
        if self.unsaved:
            text += f" {self.unsaved}건은 데이터베이스에 저장하지 못해 다음 실행에서 다시 요약합니다."
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "refreshed": self.refreshed,
            "backlog": self.backlog,
            "from_cache": self.from_cache,
            "llm": self.llm,
            "offline": self.offline,
            "fallbacks": dict(self.fallbacks),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6),
            "budget_exhausted": self.budget_exhausted,
            "unsaved": self.unsaved,
            "offline_mode": self.offline_mode,
            "backend": self.backend,
            "model": self.model,
            "status": self.status(),
        }


def _reason_kind(reason: str) -> str:
    """The kind of the last failure in a fallback reason (``timeout; gate(...)`` → ``gate``), for counting."""
    head = reason.rsplit(";", 1)[-1].strip() if reason else ""
    return head.split("(", 1)[0].split(":", 1)[0] or "unknown"


def is_current(summary: Summary, item: Item, summarizer: Summarizer) -> bool:
    """``summary`` is what ``summarizer`` would make of ``item`` now, so it need not be made again.

    Its own key; an offline summary that replaced this prompt's and model's rejected answer (prompt version
    ``<offline>+<prompt>``, see :func:`paperbot.summarize.llm.fallback_version`); and, with the offline back-end
    configured, any LLM summary (better than an extract, whatever the prompt that made it).
    """
    input_hash, prompt_version, model = summarizer.cache_key(item)
    if summarizer.backend == "offline" and summary.backend != "offline":
        return True  # never trade a model's summary for an extract
    if summary.input_hash != input_hash:
        return False  # the abstract changed
    if (summary.prompt_version, summary.model) == (prompt_version, model):
        return True
    if summarizer.backend == "offline":
        return False  # an extract of an older offline version
    return (
        summary.backend == "offline"
        and summary.model == model
        and summary.prompt_version.endswith(f"+{prompt_version}")
    )


async def with_articles(repository: Repository, items: Sequence[Item]) -> list[Item]:
    """``items`` with each post's stored article attached (issue 17): what the summariser and its cache key see.
    The article is read, never fetched: collecting fetched it once."""
    ids = [item.id for item in items if item.kind is ItemKind.POST and item.id is not None and not is_backlog(item)]
    if not ids:
        return list(items)
    articles = await repository.get_articles(ids)
    return [attach_article(item, articles.get(item.id)) if item.id is not None else item for item in items]


def is_backlog(item: Item) -> bool:
    """Flagged by a feed's first fetch: recorded but never posted."""
    return bool(item.extra.get("backlog"))


async def _stale_items(
    repository: Repository, summarizer: Summarizer, day_from: date, pending: Sequence[Item]
) -> list[Item]:
    """Items of ``day_from`` and later, not pending and not backlog, whose latest summary is not current."""
    skip = {item.id for item in pending}
    candidates = [
        item
        for item in await repository.list_items(day_from=day_from)
        if item.id is not None and item.id not in skip and not is_backlog(item)
    ]
    stale: list[Item] = []
    for start in range(0, len(candidates), LOOKUP_BATCH):
        batch = await with_articles(repository, candidates[start : start + LOOKUP_BATCH])
        latest = await repository.latest_summaries([item.id for item in batch if item.id is not None])
        stale.extend(
            item
            for item in batch
            if item.id is not None and (item.id not in latest or not is_current(latest[item.id], item, summarizer))
        )
    return stale


class _BatchWriter:
    """Stores the summaries the workers hand in, ``size`` per transaction or what ``wait`` seconds brought.

    ``put`` returns at once unless the batch is full: then the worker that filled it writes it (and so slows down
    while the database is slow). One batch is written at a time. ``close`` writes what is left and waits for the
    writes under way; ``abandon`` (the run failed or was cancelled) writes nothing more.
    """

    def __init__(
        self,
        repository: Repository,
        stored: Callable[[int, Summary, Stored[Summary] | StoreError], None],
        *,
        size: int = WRITE_BATCH,
        wait: float = WRITE_WAIT,
    ) -> None:
        self._repository = repository
        self._stored = stored
        self._size = max(1, size)
        self._wait = wait
        self._batch: list[tuple[int, Summary]] = []
        self._timer: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._one_at_a_time = asyncio.Lock()

    async def put(self, index: int, summary: Summary) -> None:
        self._batch.append((index, summary))
        if len(self._batch) >= self._size:
            await self._write()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._write_later())
            self._writes.add(self._timer)
            self._timer.add_done_callback(self._writes.discard)

    async def close(self) -> None:
        await self._write()
        for result in await asyncio.gather(*self._writes, return_exceptions=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result

    def abandon(self) -> None:
        """Write nothing more: what is not written yet is lost, and its items are pending again next pass."""
        self._batch = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _write_later(self) -> None:
        await asyncio.sleep(self._wait)
        self._timer = None  # from here on this write must not be cancelled
        await self._write()

    async def _write(self) -> None:
        batch, self._batch = self._batch, []
        if self._timer is not None:
            self._timer.cancel()  # still waiting (a timer that started writing has cleared ``_timer``)
            self._timer = None
        if not batch:
            return
        async with self._one_at_a_time:
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[tuple[int, Summary]]) -> None:
        summaries = [summary for _, summary in batch]
        try:
            results: list[Stored[Summary] | StoreError] = list(await self._repository.add_summaries(summaries))
        except StoreError as exc:
            if len(batch) == 1:
                results = [exc]
            else:
                log.warning("a batch of %d summaries was refused; storing them one at a time: %s", len(batch), exc)
                results = [await self._one(summary) for summary in summaries]
        for (index, summary), result in zip(batch, results, strict=True):
            self._stored(index, summary, result)

    async def _one(self, summary: Summary) -> Stored[Summary] | StoreError:
        try:
            return (await self._repository.add_summaries([summary]))[0]
        except StoreError as exc:
            return exc


@dataclass(slots=True)
class _Run:
    """One ``summarize_pending`` run: the work list, the shared report, and what each worker does per item."""

    repository: Repository
    summarizer: Summarizer
    work: list[Item]
    report: SummarizeReport
    budget: float | None
    current_day: Callable[[], date]
    progress: Callable[[int, int], None] | None
    results: list[Summary | None] = field(default_factory=list)
    next_index: int = 0
    done: int = 0
    first_store_error: StoreError | None = None

    async def over_budget(self) -> bool:
        if self.budget is None or self.summarizer.backend == "offline":
            return False
        totals = await self.repository.usage_totals(self.current_day())
        return totals.cost_usd >= self.budget

    async def make(self, item: Item) -> Summary:
        if self.summarizer.backend != "offline" and is_backlog(item):
            self.report.backlog += 1
            return await self.summarizer.fallback(item, BACKLOG_REASON)
        if await self.over_budget():
            self.report.budget_exhausted = True
            return await self.summarizer.fallback(item, BUDGET_REASON)
        try:
            return await self.summarizer.summarize(item)
        except Exception as exc:  # a summariser bug must not drop the item
            log.exception("summarizer failed", extra={"item_id": item.id})
            return await self.summarizer.fallback(item, f"error({type(exc).__name__})")

    async def record(self, summary: Summary, item_id: int) -> None:
        if not (summary.tokens_in or summary.tokens_out or summary.cost_usd):
            return
        await self.repository.record_usage(
            LlmUsage(
                day=self.current_day(),
                backend=self.summarizer.backend,
                model=self.summarizer.model,
                tokens_in=summary.tokens_in,
                tokens_out=summary.tokens_out,
                cost_usd=summary.cost_usd,
                item_id=item_id,
            )
        )
        self.report.tokens_in += summary.tokens_in
        self.report.tokens_out += summary.tokens_out
        self.report.cost_usd += summary.cost_usd

    async def one(self, index: int, item: Item, writer: _BatchWriter) -> None:
        item_id = item.id
        if item_id is None:
            raise PaperbotError("items_without_summary returned an item without an id")
        try:
            input_hash, prompt_version, model = self.summarizer.cache_key(item)
            cached = await self.repository.find_summary(item_id, input_hash, prompt_version, model)
            if cached is not None:
                self.report.from_cache += 1
                self.results[index] = cached
                self.finished()
                return
            summary = _with_item_id(await self.make(item), item_id)
            await self.record(summary, item_id)
        except StoreError as exc:
            self.unsaved(item_id, exc)
            self.finished()
            return
        await writer.put(index, summary)

    def stored(self, index: int, summary: Summary, result: Stored[Summary] | StoreError) -> None:
        """What the batch writer reports for the summary of ``work[index]``."""
        if isinstance(result, StoreError):
            self.unsaved(summary.item_id, result)
        elif result.created:
            if summary.fallback_reason is not None and summary.fallback_reason != BACKLOG_REASON:
                self.report.fallbacks[_reason_kind(summary.fallback_reason)] += 1
            if summary.backend == "offline":
                self.report.offline += 1
            else:
                self.report.llm += 1
            self.results[index] = result.value
        else:
            self.report.from_cache += 1  # another worker stored the same key first: theirs wins
            self.results[index] = result.value
        self.finished()

    def unsaved(self, item_id: int, exc: StoreError) -> None:
        self.report.unsaved += 1
        if self.first_store_error is None:
            self.first_store_error = exc
            log.warning("summary not stored; the item stays pending: %s", exc, extra={"item_id": item_id})

    def finished(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, len(self.work))

    async def worker(self, writer: _BatchWriter) -> None:
        while self.next_index < len(self.work):
            index = self.next_index
            self.next_index += 1
            await self.one(index, self.work[index], writer)


async def summarize_pending(
    repository: Repository,
    summarizer: Summarizer,
    *,
    day_from: date | None = None,
    limit: int | None = None,
    concurrency: int = 4,
    daily_budget_usd: float | None = None,
    today: Callable[[], date] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SummarizeReport:
    """Summarise the items without a summary (newest day first), at most ``concurrency`` at a time.

    With ``day_from`` also the stale summaries of that window (see the module docstring). ``daily_budget_usd``
    defaults to the summariser's own (from settings); ``today`` gives the budget's day (default: the UTC date).
    ``progress`` is called after each item with (items done, items in this run), for a progress bar: once its
    summary is stored (or refused), so the last call comes after the last write.
    """
    items = await with_articles(repository, await repository.items_without_summary(day_from=day_from, limit=limit))
    stale: list[Item] = []
    if day_from is not None and (limit is None or len(items) < limit):
        stale = await _stale_items(repository, summarizer, day_from, items)
        if limit is not None:
            stale = stale[: limit - len(items)]
    work = [*items, *stale]
    run = _Run(
        repository=repository,
        summarizer=summarizer,
        work=work,
        report=SummarizeReport(
            pending=len(work), refreshed=len(stale), backend=summarizer.backend, model=summarizer.model
        ),
        budget=daily_budget_usd if daily_budget_usd is not None else summarizer.daily_budget_usd,
        current_day=today or (lambda: utcnow().date()),
        progress=progress,
        results=[None] * len(work),
    )
    if work:
        # Kiwi takes seconds to load; storing a Korean summary indexes it for search (and the gate repairs with
        # it). Load it here, in a worker thread, not on the event loop inside the first write's transaction.
        await asyncio.to_thread(korean.load)
    # A fixed pool of workers, each taking the next item: never more than ``concurrency`` items (their database
    # lookups, their model call) in flight, however many are pending, and one batch of their summaries being written.
    writer = _BatchWriter(repository, run.stored)
    try:
        await asyncio.gather(*(run.worker(writer) for _ in range(min(max(1, concurrency), len(work)))))
    except BaseException:
        writer.abandon()
        raise
    await writer.close()
    report = run.report
    if report.unsaved:
        log.warning("%d summaries were not stored; their items stay pending: %s", report.unsaved, run.first_store_error)
    report.summaries = [summary for summary in run.results if summary is not None]
    log.info("summarize done", extra=report.as_dict())
    return report


def _with_item_id(summary: Summary, item_id: int) -> Summary:
    return summary if summary.item_id == item_id else replace(summary, item_id=item_id)
