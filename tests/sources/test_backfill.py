"""The backfill use case over every Repository: days fetched a few at a time, stored in batches, one report a day."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, timedelta

import pytest

from paperbot.domain import Item, ItemKind, SourceState
from paperbot.errors import SourceError, StoreError
from paperbot.ports import FetchResult, Repository
from paperbot.service import collect as collect_module
from paperbot.service.collect import CollectReport, SourceStatus, backfill
from tests.sources.test_collect import T1, paper

START = date(2025, 1, 1)


class DaySource:
    """Papers numbered by day; one given day fails; records which days were asked for and how many at once."""

    name = "hf_daily"
    kind = ItemKind.PAPER

    def __init__(self, *, failing: date | None = None) -> None:
        self.failing = failing
        self.asked: list[date] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def fetch(self, day: date, *, state: SourceState | None = None) -> FetchResult:
        self.asked.append(day)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let other days start: concurrency is what is being checked
            if day == self.failing:
                raise SourceError(f"HTTP 500 for {day}")
            base = (day - START).days * 10
            return FetchResult(items=[replace(paper(base + n, upvotes=n), day=day) for n in range(3)])
        finally:
            self.in_flight -= 1

    async def fetch_one(self, external_id: str) -> Item | None:
        return None


async def test_backfill_reports_every_day_in_order_and_stores_in_batches(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect_module, "BACKFILL_STORE_BATCH", 7)  # a batch spans days
    source = DaySource(failing=START + timedelta(days=4))
    days = [START + timedelta(days=offset) for offset in range(10)]
    done: list[date] = []
    reports = await backfill(repository, [source], days, concurrency=3, on_day=lambda r: done.append(r.day), now=T1)

    assert [r.day for r in reports] == days
    assert sorted(source.asked) == days
    assert 1 < source.max_in_flight <= 3
    assert sorted(done) == days  # progress reported once per day, failed day included
    failed = reports[4]
    assert [(o.status, o.error) for o in failed.sources] == [(SourceStatus.FAILED, "HTTP 500 for 2025-01-05")]
    for report in reports[:4] + reports[5:]:
        assert [o.status for o in report.sources] == [SourceStatus.OK]
        assert len(report.new_items) == 3
        assert all(c.item.day == report.day and c.item.id is not None for c in report.items)
    assert len(await repository.list_items()) == 27
    state = await repository.get_source_state("hf_daily")
    assert state is not None and state.last_success_at == T1 and state.consecutive_failures == 0


async def test_backfill_again_creates_nothing(repository: Repository) -> None:
    source = DaySource()
    days = [START, START + timedelta(days=1)]
    await backfill(repository, [source], days)
    again: list[CollectReport] = await backfill(repository, [source], days)
    assert [len(r.new_items) for r in again] == [0, 0]
    assert [len(r.items) for r in again] == [3, 3]


async def test_backfill_rejects_zero_concurrency(repository: Repository) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        await backfill(repository, [DaySource()], [START], concurrency=0)


class FailingWrites:
    """A repository whose second batch write fails at once while the others take a while; counts the writes."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.calls = 0
        self.running = 0
        self.completed = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.repository, name)

    async def add_items(self, items: object) -> object:
        self.calls += 1
        call = self.calls
        self.running += 1
        try:
            if call == 2:
                raise StoreError("database error: disk I/O error")
            await asyncio.sleep(0.05)
            stored = await self.repository.add_items(items)  # type: ignore[arg-type]
            self.completed += 1
            return stored
        finally:
            self.running -= 1


async def test_a_failed_write_stops_the_backfill_with_its_error_and_leaves_nothing_running(
    repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect_module, "BACKFILL_STORE_BATCH", 3)  # one day per batch
    writes = FailingWrites(repository)
    days = [START + timedelta(days=offset) for offset in range(8)]
    with pytest.raises(StoreError, match="disk I/O error"):
        await backfill(writes, [DaySource()], days)  # type: ignore[arg-type]
    await asyncio.sleep(0.1)  # anything left behind would run now
    assert writes.running == 0  # nothing left running: the batch still in flight was cancelled
    # Batch 1 was written; batch 3 had been queued before batch 2's failure was collected, and was cancelled
    # before it wrote anything.
    assert (writes.calls, writes.completed) == (2, 1)
    assert len(await repository.list_items()) == 3
