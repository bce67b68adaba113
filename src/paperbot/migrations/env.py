"""Alembic environment: runs migrations over paperbot's own async engine (same SQLite pragmas as the app)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from paperbot.store.engine import create_engine
from paperbot.store.models import metadata

config = context.config

#: Search objects created with raw SQL in revision 0002 that the ORM models cannot describe on both databases:
#: SQLite FTS5 tables (and their shadow tables), PostgreSQL's generated ``tsv`` column and GIN indexes.
_SEARCH_TABLE_PREFIXES = ("search_fts", "search_trgm")
_SEARCH_INDEXES = frozenset({"ix_search_docs_tsv", "ix_search_docs_raw_trgm"})


def _include_name(name: str | None, type_: str, parent_names: Mapping[Any, str | None]) -> bool:
    """Keep search-index objects that only the migration knows out of autogenerate (``paperbot db check``)."""
    if type_ == "table" and name is not None and name.startswith(_SEARCH_TABLE_PREFIXES):
        return False
    if type_ == "index" and name in _SEARCH_INDEXES:
        return False
    return not (type_ == "column" and name == "tsv" and parent_names.get("table_name") == "search_docs")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
