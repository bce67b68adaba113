"""Summaries: stored with the search document prepared before the write transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import Select, select

from paperbot.domain import Item, Stored, Summary, utcnow
from paperbot.store import search, search_sql
from paperbot.store.models import ItemRow, SummaryRow
from paperbot.store.rows import item_from_row, summary_from_row
from paperbot.store.sqlbase import SqlBase


class SummaryStore(SqlBase):
    """``SummaryRepository`` on SQL."""

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
            "levels": list(summary.levels) or None,
        }
        key = ["item_id", "input_hash", "prompt_version", "model"]
        # The new summary's search document is analysed before the write transaction (Kiwi, if search uses it, in
        # a worker thread): the write lock is held for the database only, never while text is analysed.
        document = await self._summary_document(summary)
        async with self._tx() as conn:
            if self._dialect == "postgresql":
                # Writers of one item's summaries queue here, so the document written last is of the newest one.
                await conn.execute(select(ItemRow.id).where(ItemRow.id == summary.item_id).with_for_update())
            stmt = (
                self._insert(SummaryRow)
                .values(**values)
                .on_conflict_do_nothing(index_elements=key)
                .returning(SummaryRow.id)
            )
            new_id = (await conn.execute(stmt)).scalar_one_or_none()
            if new_id is not None:
                # Only the newest summary's bullets are indexed; one stored with an older created_at changes nothing.
                latest = await search_sql.latest_summary_ids(conn, [summary.item_id])
                if document is not None and latest.get(summary.item_id) == new_id:
                    await search_sql.upsert_document_rows(conn, self._insert, [document.values()])
                return Stored(replace(summary, id=new_id, created_at=created_at), created=True)
            row = (
                await conn.execute(
                    select(SummaryRow.__table__).where(*(getattr(SummaryRow, k) == values[k] for k in key))
                )
            ).one()
        return Stored(summary_from_row(row), created=False)

    async def _summary_document(self, summary: Summary) -> search.SearchDocument | None:
        """The search document the item of ``summary`` gets if ``summary`` is its newest (None: no such item)."""
        async with self._read() as conn:
            sources = await search_sql.document_sources(conn, [summary.item_id])
        if not sources:
            return None
        source = replace(sources[0], bullets=tuple(summary.bullets))
        fts5 = self._dialect == "sqlite"
        return await search.off_loop(lambda: source.document(fts5=fts5), source.texts())

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
