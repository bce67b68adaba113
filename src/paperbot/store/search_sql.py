"""The search SQL of SQLite (FTS5) and PostgreSQL (tsvector, pg_trgm): tiers, documents written, what they are
built from. The design is described in :mod:`paperbot.store.search`.

The statements are assembled from fixed fragments only (hence the S608 waivers); every value, including the FTS5
MATCH expression and LIKE/GLOB patterns, is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import String, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from paperbot.domain import SearchMatch
from paperbot.store import bulk, search
from paperbot.store.models import ItemRow, SearchDocRow, SummaryRow
from paperbot.store.search import (
    FIELD_WEIGHTS,
    TRIGRAM_CHARS,
    DocumentSource,
    ParsedQuery,
    Ranked,
    SearchDocument,
    SearchFilters,
    fts5_query,
    glob_pattern,
    like_pattern,
    run_tiers,
)


def _filter_sql(filters: SearchFilters, params: dict[str, Any]) -> str:
    """Fixed SQL fragments on ``items`` for the filters; their values go to ``params``."""
    sql = ""
    if filters.day_from is not None:
        sql += " AND items.day >= :day_from"
        params["day_from"] = filters.day_from
    if filters.sources is not None:
        sql += " AND items.source IN :sources"
        params["sources"] = list(filters.sources)
    if filters.kind is not None:
        sql += " AND items.kind = :kind"
        params["kind"] = filters.kind.value
    return sql


def _statement(sql: str, params: dict[str, Any]) -> Any:
    stmt = text(sql)
    if "sources" in params:
        stmt = stmt.bindparams(bindparam("sources", expanding=True, type_=String()))
    return stmt


def _bm25_sql() -> str:
    weights = ", ".join(str(weight) for weight in FIELD_WEIGHTS.values())
    return f"bm25(search_fts, {weights})"


async def _sqlite_tier(
    conn: AsyncConnection, parsed: ParsedQuery, filters: SearchFilters, tier: SearchMatch, limit: int
) -> list[tuple[int, float]]:
    params: dict[str, Any] = {"limit": limit, "candidates": search.RANK_CANDIDATES}
    where = _filter_sql(filters, params)
    if tier is SearchMatch.SUBSTRING:
        # Newest first straight from the index (FTS5 walks rowids in descending order and stops at the limit).
        long_words = [w for w in parsed.words if len(w) >= TRIGRAM_CHARS]
        table, key = ("search_trgm", "search_trgm.rowid") if long_words else ("search_docs", "search_docs.item_id")
        conditions = []
        for n, word in enumerate(parsed.words):
            if len(word) >= TRIGRAM_CHARS:
                conditions.append(f"{table}.raw_text GLOB :w{n}")
                params[f"w{n}"] = glob_pattern(word)
            else:
                conditions.append(f"instr({table}.raw_text, :w{n}) > 0")
                params[f"w{n}"] = word
        join = f" JOIN items ON items.id = {key}" if where else ""
        sql = (
            f"SELECT {key}, 0.0 FROM {table}{join} "  # noqa: S608
            f"WHERE {' AND '.join(conditions)}{where} ORDER BY {key} DESC LIMIT :limit"
        )
    else:
        # Rank only the newest RANK_CANDIDATES matches (FTS5 walks rowids newest first and stops), not all of them.
        params["match"] = fts5_query(parsed.tokens, any_token=tier is SearchMatch.ANY)
        join = " JOIN items ON items.id = search_fts.rowid" if where else ""
        sql = (
            "SELECT item_id, score FROM ("  # noqa: S608
            f"SELECT search_fts.rowid AS item_id, -{_bm25_sql()} AS score FROM search_fts{join} "
            f"WHERE search_fts MATCH :match{where} ORDER BY search_fts.rowid DESC LIMIT :candidates"
            ") ORDER BY score DESC, item_id DESC LIMIT :limit"
        )
    rows = (await conn.execute(_statement(sql, params), params)).all()
    return [(int(item_id), float(score)) for item_id, score in rows]


async def _postgres_tier(
    conn: AsyncConnection, parsed: ParsedQuery, filters: SearchFilters, tier: SearchMatch, limit: int
) -> list[tuple[int, float]]:
    params: dict[str, Any] = {"limit": limit, "candidates": search.RANK_CANDIDATES}
    where = _filter_sql(filters, params)
    join = " JOIN items ON items.id = search_docs.item_id" if where else ""
    if tier is SearchMatch.SUBSTRING:
        conditions = []
        for n, word in enumerate(parsed.words):
            conditions.append(f"search_docs.raw_text LIKE :w{n} ESCAPE '\\'")
            params[f"w{n}"] = like_pattern(word)
        sql = (
            f"SELECT search_docs.item_id, 0.0 FROM search_docs{join} "  # noqa: S608
            f"WHERE {' AND '.join(conditions)}{where} ORDER BY search_docs.item_id DESC LIMIT :limit"
        )
    else:
        operator = " || " if tier is SearchMatch.ANY else " && "
        parts = []
        for n, token in enumerate(parsed.tokens):
            parts.append(f"plainto_tsquery(CAST('simple' AS regconfig), CAST(:t{n} AS text))")
            params[f"t{n}"] = token
        sql = (
            "SELECT item_id, ts_rank(tsv, query) AS score FROM ("  # noqa: S608
            "SELECT search_docs.item_id, search_docs.tsv, q.query "
            f"FROM (SELECT {operator.join(parts)} AS query) AS q, search_docs{join} "
            f"WHERE search_docs.tsv @@ q.query{where} ORDER BY search_docs.item_id DESC LIMIT :candidates"
            ") AS candidates ORDER BY score DESC, item_id DESC LIMIT :limit"
        )
    rows = (await conn.execute(_statement(sql, params), params)).all()
    return [(int(item_id), float(score)) for item_id, score in rows]


async def search_sql(
    conn: AsyncConnection, dialect: str, parsed: ParsedQuery, filters: SearchFilters, limit: int
) -> Ranked:
    """The ranked item ids for ``parsed`` on SQLite or PostgreSQL."""
    tier_sql = _postgres_tier if dialect == "postgresql" else _sqlite_tier

    async def tier_query(tier: SearchMatch, n: int) -> list[tuple[int, float]]:
        return await tier_sql(conn, parsed, filters, tier, n)

    return await run_tiers(parsed, limit, tier_query)


async def postgres_trigram_sees_hangul(conn: AsyncConnection) -> bool:
    """Whether pg_trgm extracts trigrams from Hangul here (it does not when the database ctype is ``C``)."""
    count = (await conn.execute(text("SELECT cardinality(show_trgm('한국어'))"))).scalar_one()
    return bool(count)


async def upsert_documents(conn: AsyncConnection, insert: Callable[[Any], Any], docs: Sequence[SearchDocument]) -> None:
    """Insert or replace search documents; ``insert`` is the dialect's INSERT (with ON CONFLICT)."""
    await upsert_document_rows(conn, insert, [doc.values() for doc in docs])


async def upsert_document_rows(
    conn: AsyncConnection, insert: Callable[[Any], Any], documents: Sequence[dict[str, Any]]
) -> None:
    """:func:`upsert_documents` for rows already in ``SearchDocument.values()`` form."""
    rows = list({row["item_id"]: row for row in documents}.values())  # one row per item: ON CONFLICT needs that
    if not rows:
        return
    table = SearchDocRow.__table__
    if conn.dialect.name != "sqlite":
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["item_id"],
            set_={column.name: stmt.excluded[column.name] for column in table.c if column.name != "item_id"},
        )
        await conn.execute(stmt, rows)  # asyncpg sends an executemany as one pipelined batch
        return
    # SQLite: all rows in one statement (see paperbot.store.bulk). Row by row, the FTS5 triggers alone took 2.5 s
    # for 4,000 documents against 1.1 s in multi-row statements (SQLite 3.40, bench/bench_backfill.py's data).
    columns = tuple(column.name for column in table.c)
    upsert = bulk.insert_from_json(table, columns, _SQLITE_DOCUMENT_CONFLICT)
    for start in range(0, len(rows), bulk.ROWS_PER_STATEMENT):
        chunk = rows[start : start + bulk.ROWS_PER_STATEMENT]
        await conn.execute(upsert, {"rows": bulk.json_rows(table, columns, conn.dialect, chunk)})


_SQLITE_DOCUMENT_CONFLICT = "ON CONFLICT (item_id) DO UPDATE SET " + ", ".join(
    f"{column.name} = excluded.{column.name}" for column in SearchDocRow.__table__.c if column.name != "item_id"
)


async def latest_bullets(conn: AsyncConnection, item_ids: Sequence[int]) -> dict[int, list[str]]:
    """The bullets of each item's newest summary (same order as ``latest_summaries``)."""
    bullets: dict[int, list[str]] = {}
    if not item_ids:
        return bullets
    rows = (
        await conn.execute(
            select(SummaryRow.item_id, SummaryRow.bullets)
            .where(SummaryRow.item_id.in_(list(item_ids)))
            .order_by(SummaryRow.created_at.desc(), SummaryRow.id.desc())
        )
    ).all()
    for item_id, item_bullets in rows:
        bullets.setdefault(int(item_id), list(item_bullets or ()))
    return bullets


def _latest_summary_id() -> Any:
    """Each item's newest summary id (``latest_summaries``' order), correlated to ``items``; NULL without one."""
    return (
        select(SummaryRow.id)
        .where(SummaryRow.item_id == ItemRow.id)
        .order_by(SummaryRow.created_at.desc(), SummaryRow.id.desc())
        .limit(1)
        .correlate(ItemRow)
        .scalar_subquery()
    )


async def latest_summary_ids(conn: AsyncConnection, item_ids: Sequence[int]) -> dict[int, int | None]:
    """Each existing item of ``item_ids`` with the id of its newest summary (None without one): what a search
    document prepared outside the transaction was built from, checked inside it before the document is written."""
    if not item_ids:
        return {}
    rows = (await conn.execute(select(ItemRow.id, _latest_summary_id()).where(ItemRow.id.in_(list(item_ids))))).all()
    return {int(item_id): (int(summary_id) if summary_id is not None else None) for item_id, summary_id in rows}


async def document_sources(conn: AsyncConnection, item_ids: Sequence[int]) -> list[DocumentSource]:
    """The stored fields and latest summary of ``item_ids`` (missing items are left out)."""
    if not item_ids:
        return []
    rows = (
        await conn.execute(
            select(
                ItemRow.id, ItemRow.title, ItemRow.abstract, ItemRow.authors, ItemRow.extra, _latest_summary_id()
            ).where(ItemRow.id.in_(list(item_ids)))
        )
    ).all()
    bullets = await latest_bullets(conn, [row.id for row in rows])
    return [
        DocumentSource(
            item_id=int(row[0]),
            title=row[1] or "",
            abstract=row[2] or "",
            authors=tuple(str(a) for a in row[3] or ()),
            extra=row[4],
            bullets=tuple(bullets.get(row[0], ())),
            summary_id=row[5],
        )
        for row in rows
    ]
