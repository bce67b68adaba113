"""``search_items`` and ``reindex_search`` (SQL in :mod:`paperbot.store.search_sql`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from paperbot.domain import ItemKind, SearchHit
from paperbot.store import search, search_sql
from paperbot.store.models import ItemRow
from paperbot.store.rows import item_from_row
from paperbot.store.sqlbase import SqlBase


class SearchStore(SqlBase):
    """``SearchRepository`` on SQL."""

    async def search_items(
        self,
        query: str,
        *,
        limit: int = 10,
        day_from: date | None = None,
        sources: Sequence[str] | None = None,
        kind: ItemKind | None = None,
    ) -> list[SearchHit]:
        parsed = await search.parse_query_off_loop(query)
        filters = search.SearchFilters(day_from, tuple(sources) if sources is not None else None, kind)
        async with self._read() as conn:
            if self._dialect == "postgresql" and not self._search_checked:
                self._search_checked = True
                if not await search_sql.postgres_trigram_sees_hangul(conn):
                    search.logger.warning(search.TRIGRAM_WARNING)
            ranked = await search_sql.search_sql(conn, self._dialect, parsed, filters, max(limit, 0))
            ids = [item_id for item_id, _, _ in ranked]
            rows = (await conn.execute(select(ItemRow.__table__).where(ItemRow.id.in_(ids)))).all() if ids else []
        items = {row.id: item_from_row(row) for row in rows}
        return [SearchHit(items[i], score, match) for i, score, match in ranked if i in items]

    async def reindex_search(self) -> int:
        """Rebuild every document in batches: read, analyse (off the loop when Kiwi runs), then one short write per
        batch that skips items whose newest summary changed meanwhile (``add_summary`` wrote theirs)."""
        async with self._read() as conn:
            ids = list((await conn.execute(select(ItemRow.id).order_by(ItemRow.id))).scalars())
        fts5 = self._dialect == "sqlite"
        for start in range(0, len(ids), 500):
            async with self._read() as conn:
                sources = await search_sql.document_sources(conn, ids[start : start + 500])

            def analyse(batch: list[search.DocumentSource] = sources) -> list[search.SearchDocument]:
                return [source.document(fts5=fts5) for source in batch]

            documents = await search.off_loop(analyse, (text for s in sources for text in s.texts()))
            async with self._tx() as conn:
                current = await search_sql.latest_summary_ids(conn, [source.item_id for source in sources])
                rows = [
                    document.values()
                    for source, document in zip(sources, documents, strict=True)
                    if source.item_id in current and current[source.item_id] == source.summary_id
                ]
                await search_sql.upsert_document_rows(conn, self._insert, rows)
        return len(ids)
