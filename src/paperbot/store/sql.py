"""``SqlRepository``: the Repository port over SQLAlchemy async (SQLite and PostgreSQL).

Writes that race on a uniqueness constraint use ``INSERT … ON CONFLICT DO NOTHING`` and then read the winner's
row, so the loser gets ``Stored(created=False)`` instead of an IntegrityError. Every SQLAlchemy error is wrapped
into :class:`StoreError` at this boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import StaticPool

from paperbot.domain import (
    ChannelFilters,
    ChannelVotes,
    Delivery,
    DeliveryState,
    DigestKind,
    DigestRun,
    Item,
    ItemKind,
    ListedItem,
    LlmUsage,
    RankedItem,
    RunStatus,
    SearchHit,
    SourceActivity,
    SourceState,
    Stored,
    Subscription,
    Summary,
    UpvotePoint,
    UsageTotals,
    Vote,
    utcnow,
)
from paperbot.errors import StoreError
from paperbot.store import bulk, search
from paperbot.store.deliveries import chunk_columns, chunk_of, store_chunks
from paperbot.store.engine import READ_ONLY, json_loads
from paperbot.store.models import (
    DeliveryRow,
    DigestRunRow,
    ItemRow,
    ItemTopicsRow,
    LeaseRow,
    LlmUsageRow,
    ProcessedEventRow,
    SourceRow,
    SubscriptionRow,
    SummaryRow,
    UpvoteHistoryRow,
    VoteRow,
)
from paperbot.store.values import clamp_count, storable_item, storable_state


def _item(row: Any) -> Item:
    values = row._mapping  # a few times faster than a Row's attributes: the archive reads hundreds per page
    return Item(
        id=values["id"],
        source=values["source"],
        external_id=values["external_id"],
        kind=ItemKind(values["kind"]),
        title=values["title"],
        url=values["url"],
        day=values["day"],
        authors=tuple(values["authors"] or ()),
        abstract=values["abstract"] or "",
        thumbnail_url=values["thumbnail_url"],
        published_at=values["published_at"],
        upvotes=values["upvotes"],
        upvotes_captured_at=values["upvotes_captured_at"],
        extra=dict(values["extra"] or {}),
    )


def _summary(row: Any, prefix: str = "") -> Summary:
    """A summary from its row, or from its columns labelled ``prefix`` + name beside another table's."""
    values = row._mapping
    return Summary(
        id=values[prefix + "id"],
        item_id=values[prefix + "item_id"],
        bullets=tuple(values[prefix + "bullets"]),
        backend=values[prefix + "backend"],
        model=values[prefix + "model"],
        prompt_version=values[prefix + "prompt_version"],
        input_hash=values[prefix + "input_hash"],
        tokens_in=values[prefix + "tokens_in"],
        tokens_out=values[prefix + "tokens_out"],
        cost_usd=values[prefix + "cost_usd"],
        fallback_reason=values[prefix + "fallback_reason"],
        created_at=values[prefix + "created_at"],
    )


def _source_state(row: Any) -> SourceState:
    return SourceState(
        name=row.name,
        etag=row.etag,
        last_modified=row.last_modified,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        consecutive_failures=row.consecutive_failures,
        last_error=row.last_error,
    )


def _run(row: Any) -> DigestRun:
    return DigestRun(
        id=row.id,
        target=row.target,
        kind=DigestKind(row.kind),
        day=row.day,
        status=RunStatus(row.status),
        created_at=row.created_at,
        finished_at=row.finished_at,
        note=row.note,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        run_id=row.run_id,
        target=row.target,
        chunk=row.chunk,
        state=DeliveryState(row.state),
        item_id=row.item_id,
        platform_message_id=row.platform_message_id,
        attempts=row.attempts,
        last_error=row.last_error,
        updated_at=row.updated_at,
        content=chunk_of(row),
    )


def _subscription(row: Any) -> Subscription:
    filters = dict(row.filters or {})
    return Subscription(
        id=row.id,
        platform=row.platform,
        workspace_id=row.workspace_id,
        channel_id=row.channel_id,
        kind=DigestKind(row.kind),
        time=row.time,
        timezone=row.timezone,
        weekday=row.weekday,
        filters=ChannelFilters(
            keywords=tuple(filters.get("keywords", ())),
            exclude=tuple(filters.get("exclude", ())),
            authors=tuple(filters.get("authors", ())),
            sources=tuple(filters.get("sources", ())),
            topics=tuple(filters.get("topics", ())),
            min_upvotes=int(filters.get("min_upvotes", 0)),
        ),
        enabled=row.enabled,
        broken_reason=row.broken_reason,
    )


def _filters_json(filters: ChannelFilters) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(filters).items()}


#: Items per INSERT statement (PostgreSQL: 14 bound parameters each, far below its limit of 32,767).
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


class SqlRepository:
    """Repository on an ``AsyncEngine``. The engine is owned by the caller unless ``owns_engine``."""

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

    # --- items ------------------------------------------------------------------------------------------------

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
                if new_items:
                    await search.upsert_documents(conn, self._insert, [search.build_document(i) for i in new_items])
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
        chunks = []
        for start in range(0, len(unique), bulk.ROWS_PER_STATEMENT):
            batch = unique[start : start + bulk.ROWS_PER_STATEMENT]
            rows = bulk.json_rows(table, _ITEM_COLUMNS, dialect, (_item_values(item, now) for item in batch))
            chunks.append((batch, rows, [search.analyse(item, fts5=True) for item in batch]))
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
                await search.upsert_document_rows(conn, self._insert, new_rows)
                by_key.update(await self._existing(conn, [_key(i) for i in batch if _key(i) not in created]))
        return by_key

    async def _existing(
        self, conn: AsyncConnection, keys: list[tuple[str, str]]
    ) -> list[tuple[tuple[str, str], Stored[Item]]]:
        if not keys:
            return []
        table = ItemRow.__table__
        rows = await conn.execute(select(table).where(tuple_(table.c.source, table.c.external_id).in_(keys)))
        return [((row.source, row.external_id), Stored(_item(row), created=False)) for row in rows]

    async def get_item(self, item_id: int) -> Item | None:
        async with self._read() as conn:
            row = (await conn.execute(select(ItemRow.__table__).where(ItemRow.id == item_id))).one_or_none()
        return _item(row) if row is not None else None

    async def find_item(self, source: str, external_id: str) -> Item | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    select(ItemRow.__table__).where(ItemRow.source == source, ItemRow.external_id == external_id)
                )
            ).one_or_none()
        return _item(row) if row is not None else None

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
        return [_item(row) for row in rows]

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
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_item(row) for row in rows]

    # --- summaries --------------------------------------------------------------------------------------------

    async def add_summary(self, summary: Summary) -> Stored[Summary]:
        created_at = summary.created_at or utcnow()
        values: dict[str, Any] = {
            "item_id": summary.item_id,
            "input_hash": summary.input_hash,
            "prompt_version": summary.prompt_version,
            "model": summary.model,
            "backend": summary.backend,
            "bullets": list(summary.bullets),
            "tokens_in": summary.tokens_in,
            "tokens_out": summary.tokens_out,
            "cost_usd": summary.cost_usd,
            "fallback_reason": summary.fallback_reason,
            "created_at": created_at,
        }
        key = ["item_id", "input_hash", "prompt_version", "model"]
        async with self._tx() as conn:
            stmt = (
                self._insert(SummaryRow)
                .values(**values)
                .on_conflict_do_nothing(index_elements=key)
                .returning(SummaryRow.id)
            )
            new_id = (await conn.execute(stmt)).scalar_one_or_none()
            if new_id is not None:
                await search.refresh_documents(conn, self._insert, [summary.item_id])
                return Stored(replace(summary, id=new_id, created_at=created_at), created=True)
            row = (
                await conn.execute(
                    select(SummaryRow.__table__).where(*(getattr(SummaryRow, k) == values[k] for k in key))
                )
            ).one()
        return Stored(_summary(row), created=False)

    async def find_summary(self, item_id: int, input_hash: str, prompt_version: str, model: str) -> Summary | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    select(SummaryRow.__table__).where(
                        SummaryRow.item_id == item_id,
                        SummaryRow.input_hash == input_hash,
                        SummaryRow.prompt_version == prompt_version,
                        SummaryRow.model == model,
                    )
                )
            ).one_or_none()
        return _summary(row) if row is not None else None

    async def latest_summaries(self, item_ids: Sequence[int]) -> dict[int, Summary]:
        if not item_ids:
            return {}
        result: dict[int, Summary] = {}
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(SummaryRow.__table__)
                    .where(SummaryRow.item_id.in_(list(item_ids)))
                    .order_by(SummaryRow.created_at.desc(), SummaryRow.id.desc())
                )
            ).all()
        for row in rows:
            result.setdefault(row.item_id, _summary(row))
        return result

    async def items_without_summary(self, *, day_from: date | None = None, limit: int | None = None) -> list[Item]:
        has_summary = select(SummaryRow.id).where(SummaryRow.item_id == ItemRow.id).exists()
        stmt: Select[Any] = select(ItemRow.__table__).where(~has_summary)
        if day_from is not None:
            stmt = stmt.where(ItemRow.day >= day_from)
        stmt = stmt.order_by(ItemRow.day.desc(), ItemRow.upvotes.desc(), ItemRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_item(row) for row in rows]

    # --- search (paperbot.store.search) -----------------------------------------------------------------------

    async def search_items(
        self,
        query: str,
        *,
        limit: int = 10,
        day_from: date | None = None,
        sources: Sequence[str] | None = None,
        kind: ItemKind | None = None,
    ) -> list[SearchHit]:
        parsed = search.parse_query(query)
        filters = search.SearchFilters(day_from, tuple(sources) if sources is not None else None, kind)
        async with self._tx() as conn:
            if self._dialect == "postgresql" and not self._search_checked:
                self._search_checked = True
                if not await search.postgres_trigram_sees_hangul(conn):
                    search.logger.warning(search.TRIGRAM_WARNING)
            ranked = await search.search_sql(conn, self._dialect, parsed, filters, max(limit, 0))
            ids = [item_id for item_id, _, _ in ranked]
            rows = (await conn.execute(select(ItemRow.__table__).where(ItemRow.id.in_(ids)))).all() if ids else []
        items = {row.id: _item(row) for row in rows}
        return [SearchHit(items[i], score, match) for i, score, match in ranked if i in items]

    async def reindex_search(self) -> int:
        async with self._tx() as conn:
            ids = list((await conn.execute(select(ItemRow.id).order_by(ItemRow.id))).scalars())
            for start in range(0, len(ids), 500):
                await search.refresh_documents(conn, self._insert, ids[start : start + 500])
        return len(ids)

    # --- source state -----------------------------------------------------------------------------------------

    async def get_source_state(self, name: str) -> SourceState | None:
        async with self._tx() as conn:
            row = (await conn.execute(select(SourceRow.__table__).where(SourceRow.name == name))).one_or_none()
        return _source_state(row) if row is not None else None

    async def save_source_state(self, state: SourceState) -> None:
        values = asdict(storable_state(state))
        stmt = self._insert(SourceRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={k: v for k, v in values.items() if k != "name"}
        )
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def list_source_states(self) -> list[SourceState]:
        async with self._read() as conn:
            rows = (await conn.execute(select(SourceRow.__table__).order_by(SourceRow.name))).all()
        return [_source_state(row) for row in rows]

    # --- digest runs and deliveries ---------------------------------------------------------------------------

    async def claim_run(self, target: str, kind: DigestKind, day: date) -> Stored[DigestRun]:
        async with self._tx() as conn:
            stmt = (
                self._insert(DigestRunRow)
                .values(
                    target=target,
                    kind=kind.value,
                    day=day,
                    status=RunStatus.PENDING.value,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["target", "kind", "day"])
                .returning(*DigestRunRow.__table__.c)
            )
            row = (await conn.execute(stmt)).one_or_none()
            if row is not None:
                return Stored(_run(row), created=True)
            row = (
                await conn.execute(
                    select(DigestRunRow.__table__).where(
                        DigestRunRow.target == target,
                        DigestRunRow.kind == kind.value,
                        DigestRunRow.day == day,
                    )
                )
            ).one()
        return Stored(_run(row), created=False)

    async def set_run_status(self, run_id: int, status: RunStatus, *, note: str | None = None) -> None:
        values: dict[str, Any] = {"status": status.value, "note": note}
        if status in (RunStatus.DONE, RunStatus.SKIPPED, RunStatus.FAILED):
            values["finished_at"] = utcnow()
        async with self._tx() as conn:
            await conn.execute(update(DigestRunRow).where(DigestRunRow.id == run_id).values(**values))

    async def add_delivery(self, delivery: Delivery) -> Stored[Delivery]:
        now = utcnow()
        async with self._tx() as conn:
            stmt = (
                self._insert(DeliveryRow)
                .values(
                    run_id=delivery.run_id,
                    target=delivery.target,
                    chunk=delivery.chunk,
                    state=delivery.state.value,
                    item_id=delivery.item_id,
                    platform_message_id=delivery.platform_message_id,
                    attempts=delivery.attempts,
                    last_error=delivery.last_error,
                    created_at=now,
                    updated_at=now,
                    **chunk_columns(delivery.content),
                )
                .on_conflict_do_nothing(index_elements=["run_id", "target", "chunk"])
                .returning(*DeliveryRow.__table__.c)
            )
            row = (await conn.execute(stmt)).one_or_none()
            if row is not None:
                return Stored(_delivery(row), created=True)
            row = (
                await conn.execute(
                    select(DeliveryRow.__table__).where(
                        DeliveryRow.run_id == delivery.run_id,
                        DeliveryRow.target == delivery.target,
                        DeliveryRow.chunk == delivery.chunk,
                    )
                )
            ).one()
        return Stored(_delivery(row), created=False)

    async def store_chunks(self, run_id: int, deliveries: Sequence[Delivery]) -> Stored[list[Delivery]]:
        async with self._tx() as conn:
            created, rows = await store_chunks(conn, self._insert, run_id, deliveries)
        return Stored([_delivery(row) for row in rows], created=created)

    async def transition_delivery(
        self,
        delivery_id: int,
        *,
        expected: Iterable[DeliveryState],
        new: DeliveryState,
        platform_message_id: str | None = None,
        error: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"state": new.value, "updated_at": utcnow(), "last_error": error}
        if platform_message_id is not None:
            values["platform_message_id"] = platform_message_id
        if new is DeliveryState.SENDING:
            values["attempts"] = DeliveryRow.attempts + 1
        stmt = (
            update(DeliveryRow)
            .where(DeliveryRow.id == delivery_id, DeliveryRow.state.in_([s.value for s in expected]))
            .values(**values)
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def list_deliveries(self, run_id: int) -> list[Delivery]:
        async with self._tx() as conn:
            rows = (
                await conn.execute(
                    select(DeliveryRow.__table__)
                    .where(DeliveryRow.run_id == run_id)
                    .order_by(DeliveryRow.target, DeliveryRow.chunk)
                )
            ).all()
        return [_delivery(row) for row in rows]

    async def find_delivery_by_message(self, target: str, platform_message_id: str) -> Delivery | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    select(DeliveryRow.__table__).where(
                        DeliveryRow.target == target, DeliveryRow.platform_message_id == platform_message_id
                    )
                )
            ).first()
        return _delivery(row) if row is not None else None

    async def last_run(self, target: str, kind: DigestKind, *, before: date | None = None) -> DigestRun | None:
        stmt = select(DigestRunRow.__table__).where(DigestRunRow.target == target, DigestRunRow.kind == kind.value)
        if before is not None:
            stmt = stmt.where(DigestRunRow.day < before)
        stmt = stmt.order_by(DigestRunRow.day.desc(), DigestRunRow.id.desc()).limit(1)
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return _run(row) if row is not None else None

    # --- votes ------------------------------------------------------------------------------------------------

    async def add_vote(self, vote: Vote) -> bool:
        stmt = (
            self._insert(VoteRow)
            .values(
                platform=vote.platform,
                message_id=vote.message_id,
                voter_hash=vote.voter_hash,
                emoji=vote.emoji,
                value=vote.value,
                channel_id=vote.channel_id,
                item_id=vote.item_id,
                created_at=vote.created_at or utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["platform", "message_id", "voter_hash", "emoji"])
            .returning(VoteRow.id)
        )
        async with self._tx() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none() is not None

    async def remove_vote(self, platform: str, message_id: str, voter_hash: str, emoji: str) -> bool:
        stmt = delete(VoteRow).where(
            VoteRow.platform == platform,
            VoteRow.message_id == message_id,
            VoteRow.voter_hash == voter_hash,
            VoteRow.emoji == emoji,
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def list_votes(self, platform: str, message_id: str) -> list[Vote]:
        stmt = (
            select(VoteRow.__table__)
            .where(VoteRow.platform == platform, VoteRow.message_id == message_id)
            .order_by(VoteRow.id)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Vote(
                platform=row.platform,
                message_id=row.message_id,
                voter_hash=row.voter_hash,
                emoji=row.emoji,
                value=row.value,
                channel_id=row.channel_id,
                item_id=row.item_id,
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def vote_totals(self, item_ids: Sequence[int], *, channel_id: str | None = None) -> dict[int, int]:
        if not item_ids:
            return {}
        conditions: list[ColumnElement[bool]] = [VoteRow.item_id.in_(list(item_ids))]
        if channel_id is not None:
            conditions.append(VoteRow.channel_id == channel_id)
        stmt = select(VoteRow.item_id, func.sum(VoteRow.value)).where(and_(*conditions)).group_by(VoteRow.item_id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return {int(item_id): int(total or 0) for item_id, total in rows if item_id is not None}

    # --- subscriptions ----------------------------------------------------------------------------------------

    async def save_subscription(self, subscription: Subscription) -> Subscription:
        now = utcnow()
        values = {
            "platform": subscription.platform,
            "workspace_id": subscription.workspace_id,
            "channel_id": subscription.channel_id,
            "kind": subscription.kind.value,
            "time": subscription.time,
            "timezone": subscription.timezone,
            "weekday": subscription.weekday,
            "filters": _filters_json(subscription.filters),
            "enabled": subscription.enabled,
            "broken_reason": subscription.broken_reason,
            "updated_at": now,
        }
        stmt = (
            self._insert(SubscriptionRow)
            .values(**values, created_at=now)
            .on_conflict_do_update(
                index_elements=["platform", "channel_id", "kind"],
                set_={k: v for k, v in values.items() if k not in ("platform", "channel_id", "kind")},
            )
            .returning(*SubscriptionRow.__table__.c)
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).one()
        return _subscription(row)

    async def remove_subscription(self, platform: str, channel_id: str, kind: DigestKind | None = None) -> int:
        stmt = delete(SubscriptionRow).where(
            SubscriptionRow.platform == platform, SubscriptionRow.channel_id == channel_id
        )
        if kind is not None:
            stmt = stmt.where(SubscriptionRow.kind == kind.value)
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount)

    async def list_subscriptions(
        self, *, platform: str | None = None, channel_id: str | None = None, active: bool | None = None
    ) -> list[Subscription]:
        stmt: Select[Any] = select(SubscriptionRow.__table__)
        if platform is not None:
            stmt = stmt.where(SubscriptionRow.platform == platform)
        if channel_id is not None:
            stmt = stmt.where(SubscriptionRow.channel_id == channel_id)
        if active is not None:
            unbroken = or_(SubscriptionRow.broken_reason.is_(None), SubscriptionRow.broken_reason == "")
            is_active = and_(SubscriptionRow.enabled.is_(True), unbroken)
            stmt = stmt.where(is_active if active else ~is_active)
        stmt = stmt.order_by(SubscriptionRow.platform, SubscriptionRow.channel_id, SubscriptionRow.kind)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_subscription(row) for row in rows]

    # --- inbound events ---------------------------------------------------------------------------------------

    async def mark_event_processed(self, platform: str, event_id: str) -> bool:
        stmt = (
            self._insert(ProcessedEventRow)
            .values(platform=platform, event_id=event_id, processed_at=utcnow())
            .on_conflict_do_nothing(index_elements=["platform", "event_id"])
            .returning(ProcessedEventRow.id)
        )
        async with self._tx() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none() is not None

    # --- leases -----------------------------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None) -> bool:
        """One upsert that only overwrites a row held by ``holder`` or expired.

        PostgreSQL: under ``pg_advisory_xact_lock`` (released with the transaction, never left behind by a dead
        connection) so concurrent takeovers queue instead of racing. SQLite: ``BEGIN IMMEDIATE`` serialises writers.
        """
        now = now or utcnow()
        expires_at = now + ttl
        table = LeaseRow.__table__
        stmt = self._insert(table).values(name=name, holder=holder, expires_at=expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": expires_at},
            where=or_(table.c.holder == holder, table.c.expires_at <= now),
        ).returning(table.c.holder)
        async with self._tx() as conn:
            if self._dialect == "postgresql":
                key = zlib.crc32(f"paperbot.lease:{name}".encode()) - 2**31
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            won = (await conn.execute(stmt)).scalar_one_or_none()
        return won == holder

    async def release_lease(self, name: str, holder: str) -> None:
        async with self._tx() as conn:
            await conn.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))

    # --- LLM usage --------------------------------------------------------------------------------------------

    async def record_usage(self, usage: LlmUsage) -> None:
        async with self._tx() as conn:
            await conn.execute(
                self._insert(LlmUsageRow).values(
                    day=usage.day,
                    backend=usage.backend,
                    model=usage.model,
                    item_id=usage.item_id,
                    tokens_in=usage.tokens_in,
                    tokens_out=usage.tokens_out,
                    cost_usd=usage.cost_usd,
                    created_at=usage.created_at or utcnow(),
                )
            )

    async def usage_totals(self, day: date) -> UsageTotals:
        stmt = select(
            func.count(LlmUsageRow.id),
            func.coalesce(func.sum(LlmUsageRow.tokens_in), 0),
            func.coalesce(func.sum(LlmUsageRow.tokens_out), 0),
            func.coalesce(func.sum(LlmUsageRow.cost_usd), 0.0),
        ).where(LlmUsageRow.day == day)
        async with self._tx() as conn:
            calls, tokens_in, tokens_out, cost = (await conn.execute(stmt)).one()
        return UsageTotals(calls=int(calls), tokens_in=int(tokens_in), tokens_out=int(tokens_out), cost_usd=float(cost))

    # --- web archive (read-only) ------------------------------------------------------------------------------

    async def latest_day(self, *, kind: ItemKind | None = None) -> date | None:
        stmt = select(func.max(ItemRow.day))
        if kind is not None:
            stmt = stmt.where(ItemRow.kind == kind.value)
        async with self._read() as conn:
            value = (await conn.execute(stmt)).scalar_one_or_none()
        return _as_date(value)

    async def neighbour_days(
        self, day: date, *, kind: ItemKind | None = None, last: date | None = None
    ) -> tuple[date | None, date | None]:
        before = select(func.max(ItemRow.day)).where(ItemRow.day < day)
        after = select(func.min(ItemRow.day)).where(ItemRow.day > (last or day))
        if kind is not None:
            before = before.where(ItemRow.kind == kind.value)
            after = after.where(ItemRow.kind == kind.value)
        async with self._read() as conn:  # one statement, one snapshot
            previous, following = (await conn.execute(select(before.scalar_subquery(), after.scalar_subquery()))).one()
        return _as_date(previous), _as_date(following)

    async def upvote_history(self, item_id: int) -> list[UpvotePoint]:
        history = UpvoteHistoryRow.__table__
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(history.c.captured_at, history.c.upvotes)
                    .where(history.c.item_id == item_id)
                    .order_by(history.c.captured_at)
                )
            ).all()
            current = (
                await conn.execute(
                    select(ItemRow.upvotes, ItemRow.upvotes_captured_at).where(
                        ItemRow.id == item_id, ItemRow.kind == ItemKind.PAPER.value
                    )
                )
            ).one_or_none()
        points = [UpvotePoint(row.captured_at, row.upvotes) for row in rows]
        return _with_current(points, current)

    async def channel_votes(self, item_id: int) -> list[ChannelVotes]:
        up = func.sum(case((VoteRow.value > 0, 1), else_=0))
        down = func.sum(case((VoteRow.value < 0, 1), else_=0))
        stmt = (
            select(VoteRow.platform, VoteRow.channel_id, up, down)
            .where(VoteRow.item_id == item_id)
            .group_by(VoteRow.platform, VoteRow.channel_id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        found = [
            ChannelVotes(platform, channel, int(ups or 0), int(downs or 0)) for platform, channel, ups, downs in rows
        ]
        return sorted(found, key=_channel_order)

    async def items_with_votes(
        self, *, day_from: date, day_to: date, kind: ItemKind | None = None, topics_version: str | None = None
    ) -> list[RankedItem]:
        items = ItemRow.__table__
        topics = ItemTopicsRow.__table__
        stmt: Select[Any] = select(items, _votes_of(items).label("team_votes"))
        if topics_version is not None:
            stmt = stmt.add_columns(topics.c.topics.label("stored_topics")).select_from(
                _with_topics(items, topics_version)
            )
        stmt = stmt.where(items.c.day >= day_from, items.c.day <= day_to)
        if kind is not None:
            stmt = stmt.where(items.c.kind == kind.value)
        stmt = stmt.order_by(items.c.day.desc(), items.c.upvotes.desc(), items.c.id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        if topics_version is None:
            return [RankedItem(_item(row), int(row.team_votes or 0)) for row in rows]
        return [RankedItem(_item(row), int(row.team_votes or 0), _topics_of(row.stored_topics)) for row in rows]

    async def listed_items(self, *, day_from: date, day_to: date, topics_version: str) -> list[ListedItem]:
        items = ItemRow.__table__
        stmt = (
            select(
                items.c.id,
                items.c.source,
                items.c.external_id,
                items.c.kind,
                items.c.day,
                items.c.upvotes,
                items.c.published_at,
                # Only posts can be a feed's backlog: the papers' JSON is not parsed for it. Both JSON values come
                # as text and are parsed below (hundreds of rows: the JSON type's result processing is layers deep).
                type_coerce(case((items.c.kind == ItemKind.POST.value, items.c.extra["backlog"]), else_=None), Text),
                _votes_of(items).label("team_votes"),
                type_coerce(ItemTopicsRow.__table__.c.topics, Text),
            )
            .select_from(_with_topics(items, topics_version))
            .where(items.c.day >= day_from, items.c.day <= day_to)
            .order_by(items.c.day.desc(), items.c.upvotes.desc(), items.c.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            ListedItem(
                id=item_id,
                source=source,
                external_id=external_id,
                kind=_KINDS[kind],
                day=day,
                upvotes=upvotes,
                published_at=published_at,
                backlog=bool(_json_value(backlog)),  # the same truth test as the digest's ``extra.get("backlog")``
                team_votes=int(votes or 0),
                topics=_topics_of(_json_value(topics)),
            )
            for item_id, source, external_id, kind, day, upvotes, published_at, backlog, votes, topics in rows
        ]

    async def items_with_summaries(self, item_ids: Sequence[int]) -> dict[int, tuple[Item, Summary | None]]:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return {}
        items = ItemRow.__table__
        summaries = SummaryRow.__table__
        newest = summaries.alias("newest")
        latest = (  # the summary latest_summaries picks, through the summaries' item index
            select(newest.c.id)
            .where(newest.c.item_id == items.c.id)
            .order_by(newest.c.created_at.desc(), newest.c.id.desc())
            .limit(1)
            .correlate(items)
            .scalar_subquery()
        )
        stmt = (
            select(items, *(column.label(_SUMMARY_PREFIX + column.name) for column in summaries.c))
            .select_from(items.outerjoin(summaries, summaries.c.id == latest))
            .where(items.c.id.in_(ids))
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        found = {
            row.id: (_item(row), _summary(row, _SUMMARY_PREFIX) if row.summary_id is not None else None) for row in rows
        }
        return {item_id: found[item_id] for item_id in ids if item_id in found}

    async def save_topics(self, version: str, topics: Mapping[int, Sequence[str]]) -> int:
        if not topics:
            return 0
        table = ItemTopicsRow.__table__
        wanted = sorted(topics)  # one lock order for every writer: two archives storing at once cannot deadlock
        async with self._tx() as conn:
            existing = set((await conn.execute(select(ItemRow.id).where(ItemRow.id.in_(wanted)))).scalars())
            rows = [{"item_id": i, "version": version, "topics": list(topics[i])} for i in wanted if i in existing]
            if rows:
                stmt = self._insert(table)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["item_id"], set_={"version": stmt.excluded.version, "topics": stmt.excluded.topics}
                )
                await conn.execute(stmt, rows)
        return len(rows)

    async def items_needing_topics(self, version: str, *, after_id: int = 0, limit: int = 500) -> list[Item]:
        items = ItemRow.__table__
        topics = ItemTopicsRow.__table__
        stmt = (
            select(items)
            .select_from(items.outerjoin(topics, topics.c.item_id == items.c.id))
            .where(items.c.id > after_id, or_(topics.c.item_id.is_(None), topics.c.version != version))
            .order_by(items.c.id)
            .limit(max(limit, 0))
        )
        # A pass starts by counting: when every item has topics of this version (item_topics rows belong to items),
        # two counts (an index, a small table) answer instead of a walk through the whole items table, which is
        # what the archive would otherwise pay each time it starts once its topics are complete.
        complete = select(
            select(func.count()).select_from(items).scalar_subquery()
            == select(func.count()).select_from(topics).where(topics.c.version == version).scalar_subquery()
        )
        async with self._read() as conn:
            if after_id <= 0 and (await conn.execute(complete)).scalar_one():
                return []
            rows = (await conn.execute(stmt)).all()
        return [_item(row) for row in rows]

    async def top_items(
        self,
        *,
        day_from: date,
        day_to: date,
        vote_weight: float,
        limit: int,
        kind: ItemKind | None = None,
    ) -> list[RankedItem]:
        items = ItemRow.__table__
        votes = _votes_of(items)
        stmt: Select[Any] = select(items, votes.label("team_votes")).where(
            items.c.day >= day_from, items.c.day <= day_to
        )
        if kind is not None:
            stmt = stmt.where(items.c.kind == kind.value)
        stmt = stmt.order_by(
            (items.c.upvotes + vote_weight * votes).desc(), items.c.upvotes.desc(), items.c.day.desc(), items.c.id
        ).limit(max(limit, 0))
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [RankedItem(_item(row), int(row.team_votes or 0)) for row in rows]

    async def source_activity(self, names: Sequence[str], *, since: date) -> dict[str, SourceActivity]:
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        # One statement, two index seeks per source (ix_items_source_day), instead of a scan or 2 × N round trips.
        rows = [
            select(
                literal(index).label("n"),
                select(func.max(ItemRow.day)).where(ItemRow.source == name).scalar_subquery().label("last_day"),
                select(func.count())
                .select_from(ItemRow)
                .where(ItemRow.source == name, ItemRow.day >= since)
                .scalar_subquery()
                .label("recent"),
            )
            for index, name in enumerate(wanted)
        ]
        async with self._read() as conn:
            result = (await conn.execute(union_all(*rows) if len(rows) > 1 else rows[0])).all()
        return {
            wanted[row.n]: SourceActivity(wanted[row.n], int(row.recent), _as_date(row.last_day))
            for row in sorted(result, key=lambda row: row.n)
        }


_SUMMARY_PREFIX = "summary_"
_KINDS = {kind.value: kind for kind in ItemKind}


def _json_value(raw: Any) -> Any:
    """A JSON value read as text (None stays None: SQL NULL, or a missing key)."""
    return json_loads(raw) if isinstance(raw, str | bytes) else raw


def _with_topics(items: Any, version: str) -> Any:
    """``items`` with each item's stored topics, when they were stored under taxonomy ``version``."""
    topics = ItemTopicsRow.__table__
    return items.outerjoin(topics, and_(topics.c.item_id == items.c.id, topics.c.version == version))


def _topics_of(value: Any) -> tuple[str, ...] | None:
    return tuple(map(str, value)) if isinstance(value, list) else None


def _votes_of(items: Any) -> Any:
    """Each item's team votes (every channel) through the votes' item index, not an aggregate of every vote."""
    return select(func.coalesce(func.sum(VoteRow.value), 0)).where(VoteRow.item_id == items.c.id).scalar_subquery()


def _as_date(value: Any) -> date | None:
    """A date from an aggregate: SQLite's ``max(day)`` comes back as ISO text, PostgreSQL's as a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _with_current(points: list[UpvotePoint], current: Any) -> list[UpvotePoint]:
    """The recorded points plus the item's own current count (a paper never refreshed has no history row)."""
    if current is None or current.upvotes_captured_at is None:
        return points
    if not points or points[-1].captured_at < current.upvotes_captured_at:
        points.append(UpvotePoint(current.upvotes_captured_at, current.upvotes))
    return points


def _channel_order(votes: ChannelVotes) -> tuple[int, str, str]:
    return (-(votes.up + votes.down), votes.platform, votes.channel_id or "")
