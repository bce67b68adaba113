"""The base of the SQL store modules: engine, write and read transactions, errors wrapped into StoreError."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

from paperbot.errors import StoreError
from paperbot.store import engine as engine_settings
from paperbot.store.engine import READ_ONLY


class _WriterQueue:
    """The in-process writers of one SQLite file, one at a time and in order, each waiting at most until the
    transaction ahead has held the turn for the deadline (``engine.SQLITE_WRITER_TURN_DEADLINE_S``)."""

    def __init__(self, database: str) -> None:
        self._lock = asyncio.Lock()
        self._database = database
        self._waiting = 0
        self._holder = ""
        #: When the turn last changed hands (taken or given back): what the deadline counts from.
        self._since = time.monotonic()

    @asynccontextmanager
    async def turn(self, deadline: float) -> AsyncIterator[None]:
        if self._lock.locked() or self._waiting:
            await self._wait(deadline)
        else:
            await self._lock.acquire()  # free and nobody in line: taken at once
        task = asyncio.current_task()
        self._holder = task.get_name() if task is not None else "?"
        self._since = time.monotonic()
        try:
            yield
        finally:
            self._since = time.monotonic()
            self._lock.release()

    async def _wait(self, deadline: float) -> None:
        """Wait in line; a waiter whose turn has not moved on for ``deadline`` seconds gives up with a StoreError.

        The deadline counts from the last hand-over, not from when this writer joined: a long queue that keeps
        moving (thousands of summaries on a loaded machine) is not a failure, one transaction that never ends is.
        The acquiring task keeps this writer's place in line while it watches the clock.
        """
        started = time.monotonic()
        self._waiting += 1
        acquiring = asyncio.ensure_future(self._lock.acquire())
        try:
            while True:
                remaining = self._since + deadline - time.monotonic()
                if remaining <= 0:
                    now = time.monotonic()
                    raise StoreError(
                        f"database error: waited {now - started:.1f} s for this process's turn to write to SQLite "
                        f"database {self._database}: the transaction of task {self._holder!r} has held it for "
                        f"{now - self._since:.1f} s (deadline {deadline:.1f} s) and not finished",
                        user_message="데이터베이스가 끝나지 않는 다른 쓰기 작업에 막혀 있습니다.",
                    )
                done, _ = await asyncio.wait({acquiring}, timeout=remaining)
                if done:
                    acquiring.result()
                    return
        except BaseException:
            if acquiring.done() and not acquiring.cancelled() and acquiring.exception() is None:
                self._lock.release()  # the turn came just as this writer gave up: pass it on
            else:
                acquiring.cancel()  # asyncio.Lock passes the turn on if it had just reached this writer
            raise
        finally:
            self._waiting -= 1


#: One writer queue per SQLite file engine and event loop (see ``SqlBase._writer_turn``).
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _WriterQueue]]
_SQLITE_WRITERS = weakref.WeakKeyDictionary()


def _sqlite_writer_queue(engine: AsyncEngine) -> _WriterQueue:
    per_loop = _SQLITE_WRITERS.setdefault(engine.sync_engine, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    queue = per_loop.get(loop)
    if queue is None:
        queue = per_loop[loop] = _WriterQueue(str(engine.url.database))
    return queue


class SqlBase:
    """What every SQL store module shares: the engine, transactions and the dialect's INSERT.

    The engine is owned by the caller unless ``owns_engine``.
    """

    def __init__(self, engine: AsyncEngine, *, owns_engine: bool = False) -> None:
        self._engine = engine
        self._owns_engine = owns_engine
        # An in-memory SQLite database is one shared connection (StaticPool): transactions of concurrent callers
        # would interleave on it, so they take turns. Every other engine hands each transaction its own connection.
        self._one_at_a_time = asyncio.Lock() if isinstance(engine.pool, StaticPool) else None
        self._dialect = engine.dialect.name
        self._search_checked = False
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._queue_writers = self._dialect == "sqlite" and self._one_at_a_time is None

    async def close(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    def _writer_turn(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """This process's writers to one SQLite file take turns in an asyncio queue before ``BEGIN IMMEDIATE``.

        SQLite has one write lock per file and a writer that finds it taken sleeps in the busy handler, for at most
        the busy timeout, and then fails with "database is locked". Between two statements of a transaction the
        lock is held while the connection waits for this event loop to send the next one, so on a busy CPU every
        in-process writer (the summariser's worker pool, votes, collect, the web process's topic writes) stretched
        each other's hold and the last in line could wait past the timeout (issue 16). Queued here, they wait in
        order for as long as the line moves; the busy timeout is left for writers of other processes only. Only a
        transaction that holds the turn past ``engine.SQLITE_WRITER_TURN_DEADLINE_S`` (a hung one) makes the
        writers behind it fail, with a StoreError, instead of blocking every writer of the process for ever.
        PostgreSQL needs no queue: its writers lock rows, not the database, and wait without a timeout.
        """
        if not self._queue_writers:
            return contextlib.nullcontext()
        return _sqlite_writer_queue(self._engine).turn(engine_settings.SQLITE_WRITER_TURN_DEADLINE_S)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with (
                self._one_at_a_time or contextlib.nullcontext(),
                self._writer_turn(),
                self._engine.begin() as connection,
            ):
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that only reads: on SQLite every statement is its own snapshot (see ``READ_ONLY``), so it
        runs beside a writer and costs no BEGIN. It ends in a rollback when the connection closes (there is nothing
        to commit): one round trip to aiosqlite's thread, where a commit would add a second, the pool's reset."""
        try:
            async with self._one_at_a_time or contextlib.nullcontext(), self._reader.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc

    def _insert(self, table: Any) -> Any:
        """A dialect INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        raise StoreError(f"unsupported database dialect {self._dialect!r}")
