"""Summaries: stored with the search document prepared before the write transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import Select, select, tuple_

from paperbot.domain import Item, Stored, Summary, utcnow
from paperbot.store import search, search_sql
from paperbot.store.models import ItemRow, SummaryRow
from paperbot.store.rows import item_from_row, summary_from_row
from paperbot.store.sqlbase import SqlBase

#: A summary's cache key, the unique constraint of its table: (item id, input hash, prompt version, model).
_Key = tuple[int, str, str, str]
_KEY_COLUMNS = ("item_id", "input_hash", "prompt_version", "model")


def _key(summary: Summary) -> _Key:
    return (summary.item_id, summary.input_hash, summary.prompt_version, summary.model)


def _summary_values(summary: Summary) -> dict[str, Any]:
    return {
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
        "created_at": summary.created_at,
        "levels": list(summary.levels) or None,
    }


class SummaryStore(SqlBase):
    """``SummaryRepository`` on SQL."""

    async def add_summary(self, summary: Summary) -> Stored[Summary]:
        return (await self.add_summaries([summary]))[0]

    async def add_summaries(self, summaries: Sequence[Summary]) -> list[Stored[Summary]]:
        """Store many summaries in one transaction, each as ``add_summary`` alone would (see ``SummaryRepository``).

        A few statements per call, not three per summary: one INSERT … ON CONFLICT DO NOTHING RETURNING (an
        executemany SQLAlchemy sends as multi-row statements), one look-up of the items' newest summaries, one
        upsert of the search documents, and one SELECT of the rows other writers already own.
        """
        wanted = list(summaries)
        if not wanted:
            return []
        now = utcnow()
        first_of_key: dict[_Key, Summary] = {}
        for summary in wanted:
            first_of_key.setdefault(_key(summary), summary)
        unique = [replace(s, created_at=s.created_at or now) for s in first_of_key.values()]
        # The new summaries' search documents are analysed before the write transaction (Kiwi, if search uses it,
        # in a worker thread): the write lock is held for the database only, never while text is analysed.
        documents = await self._summary_documents(unique)
        by_key: dict[_Key, Stored[Summary]] = {}
        table = SummaryRow.__table__
        async with self._tx() as conn:
            item_ids = sorted({summary.item_id for summary in unique})
            if self._dialect == "postgresql":
                # Writers of one item's summaries queue here, so the document written last is of the newest one
                # (in id order, so that two batches lock their common items in the same order).
                await conn.execute(
                    select(ItemRow.id).where(ItemRow.id.in_(item_ids)).order_by(ItemRow.id).with_for_update()
                )
            stmt = (
                self._insert(table)
                .on_conflict_do_nothing(index_elements=list(_KEY_COLUMNS))
                .returning(table.c.id, *(table.c[name] for name in _KEY_COLUMNS))
            )
            rows = await conn.execute(stmt, [_summary_values(summary) for summary in unique])
            created = {tuple(row[1:]): int(row[0]) for row in rows}
            # Only an item's newest summary has its bullets indexed; one stored with an older created_at changes
            # nothing.
            latest = await search_sql.latest_summary_ids(conn, list({s.item_id for s in unique if _key(s) in created}))
            new_documents = []
            for summary, document in zip(unique, documents, strict=True):
                new_id = created.get(_key(summary))
                if new_id is None:
                    continue
                by_key[_key(summary)] = Stored(replace(summary, id=new_id), created=True)
                if document is not None and latest.get(summary.item_id) == new_id:
                    new_documents.append(document.values())
            await search_sql.upsert_document_rows(conn, self._insert, new_documents)
            existing = [_key(s) for s in unique if _key(s) not in created]
            if existing:
                columns = tuple(table.c[name] for name in _KEY_COLUMNS)
                for row in await conn.execute(select(table).where(tuple_(*columns).in_(existing))):
                    theirs = summary_from_row(row)
                    by_key[_key(theirs)] = Stored(theirs, created=False)
        results: list[Stored[Summary]] = []
        seen: set[_Key] = set()
        for summary in wanted:
            key = _key(summary)
            stored = by_key[key]
            # A key given twice in one call is created once: the second mention is "already exists".
            results.append(stored if key not in seen else Stored(stored.value, created=False))
            seen.add(key)
        return results

    async def _summary_documents(self, summaries: Sequence[Summary]) -> list[search.SearchDocument | None]:
        """The search document each summary's item gets if that summary is its newest (None: no such item)."""
        async with self._read() as conn:
            sources = {
                source.item_id: source
                for source in await search_sql.document_sources(conn, list({s.item_id for s in summaries}))
            }
        prepared = [
            replace(source, bullets=tuple(summary.bullets)) if (source := sources.get(summary.item_id)) else None
            for summary in summaries
        ]
        fts5 = self._dialect == "sqlite"

        def analyse() -> list[search.SearchDocument | None]:
            return [source.document(fts5=fts5) if source is not None else None for source in prepared]

        return await search.off_loop(analyse, (text for source in prepared if source for text in source.texts()))

    async def find_summary(self, item_id: int, input_hash: str, prompt_version: str, model: str) -> Summary | None:
        async with self._read() as conn:
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
        return summary_from_row(row) if row is not None else None

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
            result.setdefault(row.item_id, summary_from_row(row))
        return result

    async def items_without_summary(self, *, day_from: date | None = None, limit: int | None = None) -> list[Item]:
        has_summary = select(SummaryRow.id).where(SummaryRow.item_id == ItemRow.id).exists()
        stmt: Select[Any] = select(ItemRow.__table__).where(~has_summary)
        if day_from is not None:
            stmt = stmt.where(ItemRow.day >= day_from)
        stmt = stmt.order_by(ItemRow.day.desc(), ItemRow.upvotes.desc(), ItemRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [item_from_row(row) for row in rows]
