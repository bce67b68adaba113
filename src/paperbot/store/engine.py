"""Async engine factory: one place that knows each backend's connection settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from paperbot.errors import ConfigError

#: Execution option of a transaction that only reads (``engine.execution_options(**{READ_ONLY: True})``). On
#: SQLite it sends no BEGIN: each statement is its own read transaction (one consistent snapshot per statement, not
#: over several), which neither waits for a writer nor blocks one in WAL mode and saves the BEGIN and COMMIT round
#: trips to aiosqlite's thread. Whatever needs one snapshot over several statements must not use it.
READ_ONLY = "paperbot_read_only"
#: How long a SQLite writer waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: How long a transaction may hold this process's SQLite writer turn (``SqlBase._writer_turn``) before the writers
#: queued behind it give up (seconds): six busy timeouts. A transaction takes milliseconds, a few seconds on a machine
#: so loaded that writers of other processes wait out the busy timeout; one that holds the turn a minute is hung.
SQLITE_WRITER_TURN_DEADLINE_S = 6 * SQLITE_BUSY_TIMEOUT_MS / 1000


def json_loads(text: str | bytes) -> Any:
    """JSON columns (authors, extra, bullets) read with orjson, several times faster on the archive's listings;
    the json module for what orjson refuses (an escaped lone surrogate that json.dumps once wrote)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _is_sqlite_memory(database: str | None) -> bool:
    return not database or database == ":memory:" or database.startswith("file::memory:")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (None for other databases and in-memory SQLite)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or _is_sqlite_memory(parsed.database):
        return None
    database = parsed.database or ""
    return Path(database.removeprefix("file:").split("?", 1)[0])


def describe_url(url: str) -> str:
    """The database URL as it may be shown: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine for ``url`` (already normalised by Settings).

    SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` transactions: a deferred transaction
    that reads and then writes fails at once with "database is locked" when another connection wrote in
    between, while an immediate one waits for the lock (up to the busy timeout) and then sees fresh data.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"PAPERBOT_DATABASE_URL: {exc}", key="PAPERBOT_DATABASE_URL") from None
    kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": json_loads}
    if parsed.get_backend_name() == "sqlite":
        memory = _is_sqlite_memory(parsed.database)
        if memory:
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_async_engine(parsed, **kwargs)
        _configure_sqlite(engine, wal=not memory)
        return engine
    kwargs["pool_pre_ping"] = True
    return create_async_engine(parsed, **kwargs)


async def _aiosqlite_connect(*args: Any, **kwargs: Any) -> Any:
    """``aiosqlite.connect`` as SQLAlchemy calls it, plus a wait for the worker thread when connecting fails.

    On a failed connect, aiosqlite (up to 0.22) queues its worker's shutdown without waiting for it. A CLI that
    then exits on the error closes the event loop first, and the worker reports into the closed loop with a
    "RuntimeError: Event loop is closed" traceback on stderr (omnilib/aiosqlite#241, #389). Joining here, while the
    loop is still open, is quick: the worker has no connection to close.
    """
    import aiosqlite

    connection = aiosqlite.connect(*args, **kwargs)
    worker = getattr(connection, "_thread", None)  # what SQLAlchemy's own connect marks as a daemon, too
    if worker is not None:
        worker.daemon = True
    try:
        return await connection
    except BaseException:
        if worker is not None and worker.is_alive():
            worker.join(timeout=5.0)
        raise


def _configure_sqlite(engine: AsyncEngine, *, wal: bool) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        return dialect.dbapi.connect(*cargs, async_creator_fn=_aiosqlite_connect, **cparams)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (see the "begin" hook) instead of the driver's implicit deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Reads (READ_ONLY above) send no BEGIN: the connection is in autocommit mode (isolation_level None), so
        # each statement reads one snapshot by itself, never queues behind a collect's write lock, and the reads
        # of a page cost no BEGIN round trip (the COMMIT that ends them is a no-op).
        if not connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
