"""Database-specific parts of the search index: FTS5 triggers, the migration's backfill, pg_trgm and Hangul."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from paperbot.domain import Item, ItemKind
from paperbot.store import migrate
from paperbot.store.engine import create_engine
from paperbot.store.search_sql import postgres_trigram_sees_hangul
from paperbot.store.sql import SqlRepository
from tests.conftest import PostgresServer

DAY = date(2025, 3, 17)


def item(external_id: str, title: str) -> Item:
    return Item(source="hf_daily", external_id=external_id, kind=ItemKind.PAPER, title=title, url="u", day=DAY)


async def test_sqlite_fts_follows_deletes_and_updates(sqlite_url: str) -> None:
    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    engine = create_engine(sqlite_url)
    try:
        keep = (await repository.add_item(item("a", "Sparse Mixture of Experts"))).value.id
        gone = (await repository.add_item(item("b", "Sparse Autoencoders"))).value.id
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM items WHERE id = :id"), {"id": gone})  # cascades to search_docs
            await conn.execute(
                text("UPDATE search_docs SET title_tokens = 'renamed' WHERE item_id = :id"), {"id": keep}
            )
            await conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')"))
            await conn.execute(text("INSERT INTO search_trgm(search_trgm) VALUES ('integrity-check')"))
            count = (await conn.execute(text("SELECT count(*) FROM search_docs"))).scalar_one()
        assert count == 1
        assert [hit.item.id for hit in await repository.search_items("sparse")] == [keep]  # substring: raw text
        assert [hit.item.id for hit in await repository.search_items("renamed")] == [keep]
        assert await repository.search_items("autoencoders") == []
    finally:
        await engine.dispose()
        await repository.close()


def test_upgrade_backfills_items_stored_before_the_index(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0001")

    async def insert_old_rows() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO items (id, source, external_id, kind, title, url, day, authors, abstract, "
                        "upvotes, extra, first_seen_at) VALUES (7, 'hf_daily', 'x', 'paper', 'Old Paper', 'u', "
                        "'2025-03-17', :authors, 'about robots', 3, :extra, '2025-03-17 00:00:00')"
                    ),
                    {"authors": json.dumps(["김민지"]), "extra": json.dumps({"ai_keywords": ["world model"]})},
                )
                await conn.execute(
                    text(
                        "INSERT INTO summaries (item_id, input_hash, prompt_version, model, backend, bullets, "
                        "tokens_in, tokens_out, cost_usd, created_at) VALUES (7, 'h', 'v1', 'm', 'offline', "
                        ":bullets, 0, 0, 0, '2025-03-17 01:00:00')"
                    ),
                    {"bullets": json.dumps(["로봇 조작을 다룹니다."])},
                )
        finally:
            await engine.dispose()

    async def search(query: str) -> list[int | None]:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            return [hit.item.id for hit in await repository.search_items(query)]
        finally:
            await repository.close()

    asyncio.run(insert_old_rows())
    migrate.upgrade(url)
    assert migrate.check(url) == []
    for query in ("old paper", "robots", "로봇", "김민지", "world model"):
        assert asyncio.run(search(query)) == [7], query


@pytest.mark.postgres
async def test_postgres_trigram_sees_hangul_in_a_c_utf8_database(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            assert await postgres_trigram_sees_hangul(conn)
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_postgres_warns_when_the_ctype_hides_hangul(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import _admin_execute, _admin_url, _database_url

    name = f"paperbot_test_ctype_c_{uuid.uuid4().hex[:12]}"
    asyncio.run(
        _admin_execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_CTYPE 'C' LC_COLLATE 'C'")
    )
    postgres_server.created.append(name)
    url = _database_url(_admin_url(), name)
    with caplog.at_level(logging.WARNING):
        migrate.upgrade(url)

    async def search() -> list[int | None]:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            await repository.add_item(item("a", "한국어 모델 논문"))
            return [hit.item.id for hit in await repository.search_items("국어")]
        finally:
            await repository.close()

    with caplog.at_level(logging.WARNING):
        found = asyncio.run(search())
    assert found  # substring search still works, only without the trigram index
    warnings = [r for r in caplog.records if "pg_trgm sees no trigrams in Hangul" in r.getMessage()]
    assert len(warnings) >= 2  # once from the migration, once from the repository at its first search
