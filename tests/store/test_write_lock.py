"""The write lock is held for the database only (issue 16): analysis runs before the write transaction, reads take
no write lock. Under a busy CPU, Kiwi's first analysis inside ``add_summary``'s transaction took 5-9 s while every
other task's ``BEGIN IMMEDIATE`` waited past the 10 s busy timeout ("database is locked")."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from paperbot import korean
from paperbot.domain import DigestKind, Item, ItemKind, SourceState, Summary
from paperbot.errors import StoreError
from paperbot.service.digest import build_digest
from paperbot.service.summarize import summarize_pending
from paperbot.store import engine
from paperbot.store.engine import create_engine, sqlite_file
from paperbot.store.sql import SqlRepository
from paperbot.summarize.offline import OfflineSummarizer
from tests.conftest import _truncate_all

DAY = date(2026, 6, 3)
#: Generous: each step below takes milliseconds; a step that waits for the other side's lock takes the whole wait.
STEP = 5.0


class _Token:
    def __init__(self, form: str, tag: str) -> None:
        self.form = form
        self.tag = tag


class GatedKiwi:
    """A stand-in for Kiwi whose analysis blocks (in its worker thread) until the test opens the gate, as the real
    model's first ``tokenize`` blocks for seconds while it loads."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()

    def tokenize(self, text: str) -> list[_Token]:
        self.entered.set()
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return [_Token(word, "NNG") for word in korean.words(text)]


@pytest.fixture
def gated_kiwi(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatedKiwi]:
    fake = GatedKiwi()
    korean.index_text.cache_clear()
    monkeypatch.setattr(korean, "_get_kiwi", lambda: fake)
    monkeypatch.setattr(korean, "_kiwi_installed", lambda: True)
    korean.configure(search_analyzer="kiwi")
    yield fake
    fake.gate.set()
    korean.configure(search_analyzer="fallback")
    korean.index_text.cache_clear()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest) -> str:
    """SQLite and PostgreSQL (sync, so the PostgreSQL database can be emptied before the test's loop runs)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("postgres_url"))
    asyncio.run(_truncate_all(url))
    return url


@pytest.fixture
async def sql_repository(sql_url: str) -> AsyncIterator[SqlRepository]:
    repository = SqlRepository(create_engine(sql_url), owns_engine=True)
    yield repository
    await repository.close()


def _paper(n: int) -> Item:
    return Item(
        source="hf_daily",
        external_id=f"2606.{n:05d}",
        kind=ItemKind.PAPER,
        title=f"Sparse attention study {n}",
        url=f"https://huggingface.co/papers/2606.{n:05d}",
        day=DAY,
    )


def _summary(item_id: int, bullets: tuple[str, ...], *, created_at: datetime | None = None) -> Summary:
    return Summary(
        item_id=item_id,
        bullets=bullets,
        backend="test",
        model="test",
        prompt_version="v1",
        input_hash=f"{hash(bullets) & 0xFFFF:064x}",
        created_at=created_at,
    )


async def _wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, STEP), "the analysis never started"


async def test_other_writers_and_readers_go_on_while_a_summary_is_analysed(
    sql_repository: SqlRepository, gated_kiwi: GatedKiwi
) -> None:
    repository = sql_repository
    item = (await repository.add_items([_paper(1)]))[0].value
    assert item.id is not None
    adding = asyncio.create_task(repository.add_summary(_summary(item.id, ("희소 어텐션을 연구합니다.",))))
    await _wait(gated_kiwi.entered)
    # The analysis is blocked: a write transaction held open around it would make each of these wait for it.
    state = SourceState(name="hf_daily", last_attempt_at=datetime(2026, 6, 3, 1, tzinfo=UTC))
    await asyncio.wait_for(repository.save_source_state(state), STEP)
    await asyncio.wait_for(repository.add_items([_paper(2)]), STEP)
    run = await asyncio.wait_for(repository.claim_run("slack:C1", DigestKind.DAILY, DAY), STEP)
    assert await asyncio.wait_for(repository.list_deliveries(run.value.id or 0), STEP) == []
    assert await asyncio.wait_for(repository.find_item("hf_daily", item.external_id), STEP) == item
    assert not adding.done()
    gated_kiwi.gate.set()
    stored = await asyncio.wait_for(adding, STEP)
    assert stored.created
    hits = await repository.search_items("어텐션", limit=5)  # the document written from the prepared analysis
    assert [hit.item.id for hit in hits] == [item.id]


async def test_a_summary_older_than_the_newest_leaves_the_document_alone(
    sql_repository: SqlRepository, gated_kiwi: GatedKiwi
) -> None:
    gated_kiwi.gate.set()
    repository = sql_repository
    item = (await repository.add_items([_paper(1)]))[0].value
    assert item.id is not None
    await repository.add_summary(
        _summary(item.id, ("확산 모델을 다룹니다.",), created_at=datetime(2026, 6, 3, tzinfo=UTC))
    )
    older = _summary(item.id, ("강화 학습을 다룹니다.",), created_at=datetime(2026, 6, 1, tzinfo=UTC))
    assert (await repository.add_summary(older)).created
    assert [hit.item.id for hit in await repository.search_items("확산", limit=5)] == [item.id]
    assert await repository.search_items("강화", limit=5) == []
    assert await repository.reindex_search() == 1  # the reindex agrees: the newest summary's bullets
    assert [hit.item.id for hit in await repository.search_items("확산", limit=5)] == [item.id]
    assert await repository.search_items("강화", limit=5) == []


async def test_sqlite_reads_do_not_wait_for_the_write_lock(sqlite_url: str) -> None:
    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    try:
        item = (await repository.add_items([_paper(1)]))[0].value
        assert item.id is not None
        run = (await repository.claim_run("slack:C1", DigestKind.DAILY, DAY)).value
        path = sqlite_file(sqlite_url)
        assert path is not None
        # Another process holds the write lock (a collect's transaction) for longer than any read may wait.
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        try:
            reads: list[Any] = [
                repository.find_item("hf_daily", item.external_id),
                repository.get_item(item.id),
                repository.list_post_candidates(
                    day_from=DAY, day_to=DAY, seen_from=datetime(2026, 6, 1, tzinfo=UTC), seen_until=datetime.now(UTC)
                ),
                repository.find_summary(item.id, "0", "v1", "m"),
                repository.items_without_summary(),
                repository.search_items("sparse attention"),
                repository.get_source_state("hf_daily"),
                repository.list_deliveries(run.id or 0),
                repository.find_delivery_by_message("slack:C1", "1.2"),
                repository.last_run("slack:C1", DigestKind.DAILY),
                repository.list_votes("slack", "1.2"),
                repository.list_subscriptions(),
                repository.usage_totals(DAY),
            ]
            for read in reads:
                await asyncio.wait_for(read, STEP)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    finally:
        await repository.close()


def test_the_in_memory_repository_and_the_pure_search_logic_import_no_sqlalchemy() -> None:
    script = (
        "import sys\n"
        "import paperbot.store.memory, paperbot.store.search, paperbot.store.search_memory\n"
        "assert 'sqlalchemy' not in sys.modules, sorted(m for m in sys.modules if m.startswith('sqlalchemy'))[:3]\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> int:
    """A 100 ms busy timeout: what 10 s is to a writer whose lock holder is slowed down by a busy CPU."""
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 100)
    return 100


async def test_writers_of_one_process_queue_instead_of_timing_out(sql_url: str, short_busy_timeout: int) -> None:
    """A write transaction holds SQLite's lock between its statements while its connection waits for the event
    loop (on a busy CPU, for seconds). Another writer of the same process used to wait for it in SQLite's busy
    handler and fail with "database is locked" after the busy timeout; now it waits its turn for as long as it
    takes. On PostgreSQL the two writes touch different rows and never wait for each other."""
    repository = SqlRepository(create_engine(sql_url), owns_engine=True)
    try:
        item = (await repository.add_items([_paper(1)]))[0].value
        holding = asyncio.Event()
        release = asyncio.Event()

        async def slow_writer() -> None:
            async with repository._tx() as conn:  # the transaction of any store write, as its statements run
                await conn.execute(text("UPDATE items SET title = title WHERE id = :id"), {"id": item.id})
                holding.set()
                await release.wait()  # the loop is elsewhere: the next statement is not sent yet

        holder = asyncio.create_task(slow_writer())
        await asyncio.wait_for(holding.wait(), STEP)
        other = asyncio.create_task(repository.add_items([_paper(2)]))
        await asyncio.sleep(short_busy_timeout / 1000 * 5)  # five busy timeouts: the old code had failed by now
        assert not other.done() or other.exception() is None
        release.set()
        await asyncio.wait_for(holder, STEP)
        stored = await asyncio.wait_for(other, STEP)
        assert [s.value.external_id for s in stored] == ["2606.00002"]
        assert await repository.find_item("hf_daily", "2606.00002") is not None
    finally:
        await repository.close()


@pytest.fixture
def short_writer_deadline(monkeypatch: pytest.MonkeyPatch) -> float:
    """A writer-turn deadline of 0.3 s instead of a minute."""
    monkeypatch.setattr(engine, "SQLITE_WRITER_TURN_DEADLINE_S", 0.3)
    return 0.3


class _HeldTransaction:
    """A write transaction held open (as a hung one would be) until ``release``."""

    def __init__(self, repository: SqlRepository, item_id: int) -> None:
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._hold(repository, item_id), name="hung-writer")

    async def _hold(self, repository: SqlRepository, item_id: int) -> None:
        async with repository._tx() as conn:
            await conn.execute(text("UPDATE items SET title = title WHERE id = :id"), {"id": item_id})
            self.holding.set()
            await self.release.wait()

    async def __aenter__(self) -> _HeldTransaction:
        await asyncio.wait_for(self.holding.wait(), STEP)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await asyncio.wait_for(self.task, STEP)


async def test_a_writer_behind_a_hung_transaction_gives_up_after_the_deadline(
    sqlite_url: str, short_writer_deadline: float
) -> None:
    """The writer queue used to wait without a deadline: one transaction that never ended blocked every writer of
    the process for ever (here the ``wait_for`` of STEP seconds would time out instead)."""
    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    try:
        item = (await repository.add_items([_paper(1)]))[0].value
        assert item.id is not None
        before_the_turn_was_taken = time.monotonic()
        async with _HeldTransaction(repository, item.id):
            with pytest.raises(StoreError, match=r"turn to write to SQLite database .*'hung-writer'") as failed:
                await asyncio.wait_for(repository.add_items([_paper(2)]), STEP)
            assert time.monotonic() - before_the_turn_was_taken >= short_writer_deadline  # not before the deadline
            assert str(sqlite_file(sqlite_url)) in str(failed.value)  # names the database it waited for
            # The turn has not moved for longer than the deadline: the next writer gives up at once.
            started = time.monotonic()
            with pytest.raises(StoreError, match="turn to write"):
                await asyncio.wait_for(repository.save_source_state(SourceState(name="hf_daily")), STEP)
            assert time.monotonic() - started < short_writer_deadline
            assert await asyncio.wait_for(repository.get_item(item.id), STEP) == item  # reads go on
        # The transaction ended: the queue works again, and the writers that gave up wrote nothing.
        assert await repository.find_item("hf_daily", "2606.00002") is None
        assert await repository.get_source_state("hf_daily") is None
        stored = await asyncio.wait_for(repository.add_items([_paper(2)]), STEP)
        assert stored[0].created
    finally:
        await repository.close()


async def test_a_long_queue_that_moves_is_not_a_hung_one(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline counts from the last hand-over of the turn, not from when a writer joined the line: six
    transactions of a quarter of the deadline each keep the last writer waiting past the deadline, and it writes."""
    deadline = 1.0
    monkeypatch.setattr(engine, "SQLITE_WRITER_TURN_DEADLINE_S", deadline)
    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    try:
        item = (await repository.add_items([_paper(1)]))[0].value

        async def slow_writer() -> None:
            async with repository._tx() as conn:
                await conn.execute(text("UPDATE items SET title = title WHERE id = :id"), {"id": item.id})
                await asyncio.sleep(deadline / 4)

        started = time.monotonic()
        writers = [asyncio.create_task(slow_writer()) for _ in range(6)]
        await asyncio.sleep(0)  # they are in line
        last = await asyncio.wait_for(repository.add_items([_paper(2)]), STEP)
        assert time.monotonic() - started >= 6 * deadline / 4
        assert last[0].created
        await asyncio.wait_for(asyncio.gather(*writers), STEP)
    finally:
        await repository.close()


async def test_summaries_behind_a_hung_transaction_stay_pending_and_the_digest_is_built(
    sqlite_url: str, short_writer_deadline: float
) -> None:
    """A summary write that gives up is one failing part of the digest, not the end of it: the summariser reports
    the items it could not store (they stay pending), the digest is built from what is stored, and the next pass,
    once the transaction has ended, stores their summaries."""
    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    try:
        items = [stored.value for stored in await repository.add_items([_paper(n) for n in range(1, 4)])]
        assert items[0].id is not None
        async with _HeldTransaction(repository, items[0].id):
            report = await asyncio.wait_for(summarize_pending(repository, OfflineSummarizer()), STEP)
            assert (report.pending, report.offline, report.unsaved) == (3, 0, 3)
            assert "3건은 데이터베이스에 저장하지 못해" in report.status()
            digest = await asyncio.wait_for(build_digest(repository, day=DAY), STEP)
            assert {entry.item.id for entry in digest.entries} == {item.id for item in items}
            assert all(entry.summary is None for entry in digest.entries)
        assert len(await repository.items_without_summary()) == 3
        again = await asyncio.wait_for(summarize_pending(repository, OfflineSummarizer()), STEP)
        assert (again.pending, again.offline, again.unsaved) == (3, 3, 0)
        assert await repository.items_without_summary() == []
    finally:
        await repository.close()
