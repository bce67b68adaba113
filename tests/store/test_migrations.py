"""Migrations on both databases: upgrade creates the schema, check finds no drift, upgrade is idempotent,
downgrade base leaves an empty database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from paperbot.store import migrate
from tests.conftest import PostgresServer


async def _table_names(url: str) -> set[str]:
    from sqlalchemy import inspect

    from paperbot.store.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


def _full_cycle(url: str) -> None:
    assert migrate.status(url).current is None
    migrate.upgrade(url)
    state = migrate.status(url)
    assert state.current == state.head
    tables = asyncio.run(_table_names(url))
    assert {"items", "summaries", "digest_runs", "deliveries", "votes", "subscriptions", "sources"} <= tables
    assert {"processed_events", "llm_usage", "alembic_version"} <= tables
    assert migrate.check(url) == []
    migrate.upgrade(url)  # a second upgrade is a no-op
    assert migrate.status(url).current == state.head
    assert migrate.check(url) == []
    migrate.downgrade(url, "base")
    assert migrate.status(url).current is None
    assert asyncio.run(_table_names(url)) == set()


def test_sqlite_full_cycle(tmp_path: Path) -> None:
    _full_cycle(f"sqlite+aiosqlite:///{tmp_path / 'cycle.db'}")


@pytest.mark.postgres
def test_postgres_full_cycle(postgres_server: PostgresServer) -> None:
    _full_cycle(postgres_server.create_database())


def test_check_reports_a_database_behind_head(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    problems = migrate.check(url)
    assert len(problems) == 1
    assert "paperbot db upgrade" in problems[0]


def test_ensure_schema_upgrades_sqlite_but_not_postgres(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'auto.db'}"
    assert migrate.ensure_schema(url) is None
    assert migrate.status(url).up_to_date


@pytest.mark.postgres
def test_ensure_schema_refuses_to_migrate_shared_postgres(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    problem = migrate.ensure_schema(url)
    assert problem is not None
    assert "paperbot db upgrade" in problem
    assert migrate.status(url).current is None


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    from sqlalchemy import text

    from paperbot.store.engine import SQLITE_BUSY_TIMEOUT_MS, create_engine

    async def pragmas() -> tuple[str, int, int]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
        try:
            async with engine.connect() as connection:
                mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
                timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
                fks = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
                return str(mode), int(timeout), int(fks)
        finally:
            await engine.dispose()

    assert asyncio.run(pragmas()) == ("wal", SQLITE_BUSY_TIMEOUT_MS, 1)
