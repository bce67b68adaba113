"""The base of the SQL store modules: engine, write and read transactions, errors wrapped into StoreError."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

from paperbot.errors import StoreError
from paperbot.store.engine import READ_ONLY

#: One writer queue per SQLite file engine and event loop (see ``SqlBase._writer_turn``).
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]]
_SQLITE_WRITERS = weakref.WeakKeyDictionary()


def _sqlite_writer_lock(engine: AsyncEngine) -> asyncio.Lock:
    per_loop = _SQLITE_WRITERS.setdefault(engine.sync_engine, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    lock = per_loop.get(loop)
    if lock is None:
        lock = per_loop[loop] = asyncio.Lock()
    return lock


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
        each other's hold and the last in line could wait past the timeout (issue 16). Queued here, they wait
        without a deadline, in order; the busy timeout is left for writers of other processes only.
        PostgreSQL needs no queue: its writers lock rows, not the database, and wait without a timeout.
        """
        if not self._queue_writers:
            return contextlib.nullcontext()
        return _sqlite_writer_lock(self._engine)

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
