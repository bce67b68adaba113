"""The base of the SQL store modules: engine, write and read transactions, errors wrapped into StoreError."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

from paperbot.errors import StoreError
from paperbot.store.engine import READ_ONLY


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

    async def close(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._one_at_a_time or contextlib.nullcontext(), self._engine.begin() as connection:
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
