"""Items: insert many at once (both dialects), look up, list, upvotes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from paperbot.domain import DigestKind, Item, ItemKind, Stored, utcnow
from paperbot.errors import StoreError
from paperbot.store import bulk, search, search_sql
from paperbot.store.models import DeliveryRow, DigestRunRow, ItemRow, UpvoteHistoryRow
from paperbot.store.rows import item_from_row
from paperbot.store.sqlbase import SqlBase
from paperbot.store.values import clamp_count, storable_item

_INSERT_BATCH = 500


def _item_values(item: Item, now: datetime) -> dict[str, Any]:
    return {
        "source": item.source,
        "external_id": item.external_id,
        "kind": item.kind.value,
        "title": item.title,
        "url": item.url,
        "day": item.day,
        "authors": list(item.authors),
        "abstract": item.abstract,
        "thumbnail_url": item.thumbnail_url,
        "published_at": item.published_at,
        "upvotes": item.upvotes,
        "upvotes_captured_at": item.upvotes_captured_at,
        "extra": dict(item.extra),
        "first_seen_at": now,
    }


_ITEM_COLUMNS = (
    "source",
    "external_id",
    "kind",
    "title",
    "url",
    "day",
    "authors",
    "abstract",
    "thumbnail_url",
    "published_at",
    "upvotes",
    "upvotes_captured_at",
    "extra",
    "first_seen_at",
)


#: The rows the last INSERT created, as one row: ``changes()`` and a JSON array of (id, source, external_id).
_SQLITE_NEW_ITEM_IDS = text(
    "SELECT changes(), (SELECT json_group_array(json_array(id, source, external_id)) FROM items"
    " WHERE id > (SELECT max(id) FROM items) - changes())"
)


def _key(item: Item) -> tuple[str, str]:
    return (item.source, item.external_id)


class ItemStore(SqlBase):
    """``ItemRepository`` on SQL."""

    async def add_item(self, item: Item) -> Stored[Item]:
        return (await self.add_items([item]))[0]

    async def add_items(self, items: Iterable[Item], *, seen_at: datetime | None = None) -> list[Stored[Item]]:
        """Insert new items in multi-row statements; existing (source, external_id) come back with created=False.

        A few statements per call, not two per paper: on PostgreSQL one INSERT … ON CONFLICT DO NOTHING RETURNING
        per batch tells which rows this call created; on SQLite see :meth:`_add_items_sqlite`. One SELECT then
        fetches the rows other writers (or earlier runs) already own.
        """
        wanted = [storable_item(item) for item in items]
        if not wanted:
            return []
        first_of_key: dict[tuple[str, str], Item] = {}
        for item in wanted:
            first_of_key.setdefault((item.source, item.external_id), item)
        unique = list(first_of_key.values())
        now = seen_at or utcnow()
        if self._dialect == "sqlite":
            by_key = await self._add_items_sqlite(unique, now)
        else:
            by_key = await self._add_items_returning(unique, now)
        results: list[Stored[Item]] = []
        seen: set[tuple[str, str]] = set()
        for item in wanted:
            key = (item.source, item.external_id)
            stored = by_key[key]
            # A key given twice in one call is created once: the second mention is "already exists".
            results.append(stored if key not in seen else Stored(stored.value, created=False))
            seen.add(key)
        return results

    async def _add_items_returning(self, unique: list[Item], now: datetime) -> dict[tuple[str, str], Stored[Item]]:
        table = ItemRow.__table__
        by_key: dict[tuple[str, str], Stored[Item]] = {}
        # Documents for every item, analysed before the transaction (only the new ones are written).
        documents = await search.off_loop(
            lambda: [search.analyse(item) for item in unique], (t for i in unique for t in search.item_texts(i))
        )
        document_of = {_key(item): document for item, document in zip(unique, documents, strict=True)}
        async with self._tx() as conn:
            for start in range(0, len(unique), _INSERT_BATCH):
                batch = unique[start : start + _INSERT_BATCH]
                # executemany of one cached statement: SQLAlchemy batches it into multi-row INSERT … RETURNING
                # ("insertmanyvalues") without compiling a new statement for every batch size.
                stmt = (
                    self._insert(table)
                    .on_conflict_do_nothing(index_elements=["source", "external_id"])
                    .returning(table.c.id, table.c.source, table.c.external_id)
                )
                rows = await conn.execute(stmt, [_item_values(item, now) for item in batch])
                created = {(row.source, row.external_id): row.id for row in rows}
                new_items = [replace(item, id=created[key]) for item in batch if (key := _key(item)) in created]
                by_key.update((_key(item), Stored(item, created=True)) for item in new_items)
                await search_sql.upsert_document_rows(
                    conn,
                    self._insert,
                    [document_of[_key(item)].values() | {"item_id": item.id} for item in new_items],
                )
                by_key.update(await self._existing(conn, [_key(i) for i in batch if _key(i) not in created]))
        return by_key

    async def _add_items_sqlite(self, unique: list[Item], now: datetime) -> dict[tuple[str, str], Stored[Item]]:
        """SQLite: per chunk, one INSERT fed by a JSON parameter and one single-row answer with the new ids.

        See :mod:`paperbot.store.bulk` for why statements and round trips to aiosqlite's thread are what count. The
        rows and the search documents are prepared before the transaction (documents for every item, used only for
        the new ones: a few milliseconds wasted on a re-collect, none of it under the write lock).

        Correct because the transaction is ``BEGIN IMMEDIATE`` (no other writer until it ends) and SQLite gives each
        new row the id above the current maximum, so the ``changes()`` rows one statement inserted are the ids
        just below the new maximum. Checked: should SQLite ever pick ids at random (after id 2**63 - 1), the rows
        found would not all be ours and the call fails instead of misreporting.
        """
        table = ItemRow.__table__
        dialect = self._engine.dialect

        def prepare() -> list[tuple[list[Item], str, list[search.SearchDocument]]]:
            chunks = []
            for start in range(0, len(unique), bulk.ROWS_PER_STATEMENT):
                batch = unique[start : start + bulk.ROWS_PER_STATEMENT]
                rows = bulk.json_rows(table, _ITEM_COLUMNS, dialect, (_item_values(item, now) for item in batch))
                chunks.append((batch, rows, [search.analyse(item, fts5=True) for item in batch]))
            return chunks

        # Korean titles or excerpts (Kiwi, if search uses it) are analysed in a worker thread; English ones here.
        chunks = await search.off_loop(prepare, (text for item in unique for text in search.item_texts(item)))
        insert = bulk.insert_from_json(table, _ITEM_COLUMNS, "ON CONFLICT (source, external_id) DO NOTHING")
        by_key: dict[tuple[str, str], Stored[Item]] = {}
        async with self._tx() as conn:
            for batch, rows, documents in chunks:
                await conn.execute(insert, {"rows": rows})
                inserted, found = (await conn.execute(_SQLITE_NEW_ITEM_IDS)).one()
                created = {(source, external_id): item_id for item_id, source, external_id in json.loads(found)}
                if len(created) != inserted or not created.keys() <= {_key(item) for item in batch}:
                    raise StoreError(
                        f"inserted {inserted} items but found {len(created)} rows with the newest ids, not all new"
                    )
                new_rows = []
                for item, document in zip(batch, documents, strict=True):
                    if (item_id := created.get(_key(item))) is not None:
                        by_key[_key(item)] = Stored(replace(item, id=item_id), created=True)
                        new_rows.append(document.values() | {"item_id": item_id})
                await search_sql.upsert_document_rows(conn, self._insert, new_rows)
                by_key.update(await self._existing(conn, [_key(i) for i in batch if _key(i) not in created]))
        return by_key

    async def _existing(
        self, conn: AsyncConnection, keys: list[tuple[str, str]]
    ) -> list[tuple[tuple[str, str], Stored[Item]]]:
        if not keys:
            return []
        table = ItemRow.__table__
        rows = await conn.execute(select(table).where(tuple_(table.c.source, table.c.external_id).in_(keys)))
        return [((row.source, row.external_id), Stored(item_from_row(row), created=False)) for row in rows]

    async def get_item(self, item_id: int) -> Item | None:
        async with self._read() as conn:
            row = (await conn.execute(select(ItemRow.__table__).where(ItemRow.id == item_id))).one_or_none()
        return item_from_row(row) if row is not None else None

    async def find_item(self, source: str, external_id: str) -> Item | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(ItemRow.__table__).where(ItemRow.source == source, ItemRow.external_id == external_id)
                )
            ).one_or_none()
        return item_from_row(row) if row is not None else None

    async def list_items(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        kind: ItemKind | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[Item]:
        stmt: Select[Any] = select(ItemRow.__table__)
        if day_from is not None:
            stmt = stmt.where(ItemRow.day >= day_from)
        if day_to is not None:
            stmt = stmt.where(ItemRow.day <= day_to)
        if kind is not None:
            stmt = stmt.where(ItemRow.kind == kind.value)
        if sources is not None:
            stmt = stmt.where(ItemRow.source.in_(list(sources)))
        stmt = stmt.order_by(ItemRow.day.desc(), ItemRow.upvotes.desc(), ItemRow.id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [item_from_row(row) for row in rows]

    async def update_upvotes(self, item_id: int, upvotes: int, captured_at: datetime) -> None:
        history = UpvoteHistoryRow.__table__
        async with self._tx() as conn:
            # The history keeps the value being replaced (its first capture has no row yet) and the new one.
            previous = select(ItemRow.id, ItemRow.upvotes, ItemRow.upvotes_captured_at).where(
                ItemRow.id == item_id, ItemRow.upvotes_captured_at.is_not(None)
            )
            await conn.execute(
                self._insert(history)
                .from_select(["item_id", "upvotes", "captured_at"], previous)
                .on_conflict_do_nothing(index_elements=["item_id", "captured_at"])
            )
            await conn.execute(
                update(ItemRow)
                .where(ItemRow.id == item_id)
                .values(upvotes=clamp_count(upvotes), upvotes_captured_at=captured_at)
            )
            await conn.execute(
                self._insert(history)
                .from_select(
                    ["item_id", "upvotes", "captured_at"],
                    select(ItemRow.id, ItemRow.upvotes, ItemRow.upvotes_captured_at).where(ItemRow.id == item_id),
                )
                .on_conflict_do_update(index_elements=["item_id", "captured_at"], set_={"upvotes": upvotes})
            )

    async def list_post_candidates(
        self,
        *,
        day_from: date,
        day_to: date,
        seen_from: datetime,
        seen_until: datetime,
        not_delivered_to: str | None = None,
        except_run_day: date | None = None,
    ) -> list[Item]:
        table = ItemRow.__table__
        stmt: Select[Any] = select(table).where(
            ItemRow.kind == ItemKind.POST.value,
            or_(
                and_(ItemRow.day >= day_from, ItemRow.day <= day_to),
                and_(ItemRow.first_seen_at >= seen_from, ItemRow.first_seen_at < seen_until),
            ),
        )
        if not_delivered_to is not None:
            delivered = (
                select(DeliveryRow.id)
                .join(DigestRunRow, DigestRunRow.id == DeliveryRow.run_id)
                .where(
                    DeliveryRow.item_id == ItemRow.id,
                    DigestRunRow.target == not_delivered_to,
                    DigestRunRow.kind == DigestKind.DAILY.value,
                )
            )
            if except_run_day is not None:
                delivered = delivered.where(DigestRunRow.day != except_run_day)
            stmt = stmt.where(~delivered.exists())
        stmt = stmt.order_by(ItemRow.day.desc(), ItemRow.id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [item_from_row(row) for row in rows]
