"""SQLite's bulk path (paperbot.store.bulk): rows stored exactly as SQLAlchemy's insert() stores them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from paperbot.errors import StoreError
from paperbot.store import migrate, search
from paperbot.store.engine import create_engine
from paperbot.store.items import _item_values
from paperbot.store.models import ItemRow, SearchDocRow
from paperbot.store.sql import SqlRepository
from tests.store.test_repository_contract import paper

HOSTILE = 'Robert\'); DROP TABLE items;-- "quoted" \\ back\\slash $[0] json_each(:rows) 한국어 🤖'


async def _raw_rows(url: str, table: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            columns = ", ".join(f"{name}, typeof({name})" for name in _columns(table) if name not in ("id", "item_id"))
            return [tuple(row) for row in (await conn.execute(text(f"SELECT {columns} FROM {table}"))).all()]  # noqa: S608
    finally:
        await engine.dispose()


def _columns(table: str) -> list[str]:
    model = ItemRow if table == "items" else SearchDocRow
    return [column.name for column in model.__table__.c]


@pytest.fixture
def reference_url(tmp_path: Path) -> str:
    """A second migrated SQLite file, written by plain SQLAlchemy for comparison."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}"
    migrate.upgrade(url)
    return url


async def test_bulk_items_and_documents_match_sqlalchemy_insert(sqlite_url: str, reference_url: str) -> None:
    item = replace(
        paper("2503.09999", title=HOSTILE),
        abstract=f"Abstract with {HOSTILE}\nand a second line.",
        authors=("Zoe Zhang", HOSTILE),
        published_at=datetime(2025, 3, 16, 23, 59, 59, 123456, tzinfo=UTC),
        extra={"ai_keywords": [HOSTILE], "nested": {"list": [1, 2.5, None, True]}},
    )
    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    try:
        [stored] = await repository.add_items([item])
        assert stored.created
        assert await repository.get_item(stored.value.id or 0) == stored.value
    finally:
        await repository.close()

    # The same item and document written by plain SQLAlchemy into a second database.
    engine = create_engine(reference_url)
    try:
        async with engine.begin() as conn:
            values = _item_values(item, now=datetime(2000, 1, 1, tzinfo=UTC))
            item_id = (await conn.execute(insert(ItemRow.__table__).values(values).returning(ItemRow.id))).scalar_one()
            document = search.build_document(replace(item, id=item_id))
            await conn.execute(insert(SearchDocRow.__table__).values(document.values()))
    finally:
        await engine.dispose()

    ours, reference = await _raw_rows(sqlite_url, "items"), await _raw_rows(reference_url, "items")
    first_seen = _columns("items").index("first_seen_at") - 1  # id is skipped; each column has a typeof() twin
    strip = slice(2 * first_seen, 2 * first_seen + 2)
    assert [row[: strip.start] + row[strip.stop :] for row in ours] == [
        row[: strip.start] + row[strip.stop :] for row in reference
    ]
    assert await _raw_rows(sqlite_url, "search_docs") == await _raw_rows(reference_url, "search_docs")


async def test_search_finds_bulk_inserted_items(sqlite_url: str) -> None:
    repository = SqlRepository(create_engine(sqlite_url), owns_engine=True)
    try:
        await repository.add_items([paper(f"2503.{n:05d}", title=f"Sparse attention study {n}") for n in range(30)])
        hits = await repository.search_items("sparse attention", limit=50)
        assert len(hits) == 30
    finally:
        await repository.close()


async def test_ids_that_are_not_ascending_are_refused_not_misreported(sqlite_url: str) -> None:
    # Once the largest id is 2**63 - 1, SQLite picks new ids at random, below it: the "rows above the previous
    # maximum" shortcut would find none of them. The repository must notice instead of calling them existing.
    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        values = _item_values(paper("2503.00000"), now=datetime(2025, 1, 1, tzinfo=UTC))
        await conn.execute(insert(ItemRow.__table__).values(id=2**63 - 1, **values))
    repository = SqlRepository(engine, owns_engine=True)
    try:
        with pytest.raises(StoreError, match="inserted 2 items but found"):
            await repository.add_items([paper("2503.00001"), paper("2503.00002")])
        async with engine.connect() as conn:  # the failed call left nothing behind
            assert (await conn.execute(select(ItemRow.id))).scalars().all() == [2**63 - 1]
    finally:
        await repository.close()
