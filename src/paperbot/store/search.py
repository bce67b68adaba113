"""Full-text search over everything collected: documents, query parsing, and the queries on each database.

Each item has one row in ``search_docs``: its title, latest summary bullets, authors + HF keywords and
abstract/excerpt as normalised tokens (``paperbot.korean``: Korean morphemes plus lowercased Latin words, so
``모델의`` indexes ``모델`` and ``언어모델`` indexes ``언어`` + ``모델``), in four weighted fields, plus the
normalised raw text for substring matches. Python writes the row in the same transaction as the item or the
summary, the same way on every database; the database indexes it:

- SQLite: two FTS5 tables with *external content* on ``search_docs``, kept in step by triggers (migration 0002):
  ``search_fts`` (unicode61 over the token fields, bm25 with field weights) and ``search_trgm`` (trigram,
  detail=none, over the raw text: indexed substring matches of three characters or more). External content
  rather than a contentless table maintained from Python: the text is stored once anyway (PostgreSQL and the
  substring fallback need it), SQLite before 3.43 cannot delete from a contentless table without the old values,
  and triggers carry item deletions (ON DELETE CASCADE) and updates into the index with no Python bookkeeping.
- PostgreSQL: a generated ``tsv`` column ('simple' configuration over the tokens, weights A–D) with a GIN index,
  ranked with ts_rank, and a pg_trgm GIN index on the raw text for the substring fallback.

A search runs tiers until it has ``limit`` hits: items with every query token (``all``), with some (``any``),
then items whose raw text contains every query word (``substring``: partial words such as ``transf``). Words of
three characters or more use the trigram index; a query whose words are all shorter scans the raw text, so that
tier runs for it only when nothing else matched.
Every user value reaches the database as a bound parameter; FTS5 query syntax is built only from analyser tokens,
each quoted as a phrase.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import String, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from paperbot import korean
from paperbot.domain import Item, ItemKind, SearchMatch
from paperbot.store import bulk
from paperbot.store.models import ItemRow, SearchDocRow, SummaryRow

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The user query is cut to this many characters (after normalisation) before analysis.
MAX_QUERY_CHARS = 300
#: At most this many analyser tokens and substring words are searched.
MAX_QUERY_TOKENS = 16
MAX_SUBSTRING_WORDS = 4
#: A substring word needs this many characters (one Hangul syllable would match nearly everything).
MIN_SUBSTRING_CHARS = 2
#: Below this many characters a substring cannot use the trigram index (SQLite scans ``search_docs``).
TRIGRAM_CHARS = 3
#: Matches ranked per tier: the newest this many (by item id). On SQLite bm25 costs a few microseconds per ranked
#: row on top of a pass over each query term's whole doclist, so ranking every match of a common word among
#: 100,000 items would take a quarter of a second; the newest 200 matches keep it at a few milliseconds.
RANK_CANDIDATES = 200
#: Longest text analysed per field; blog excerpts can be long and the tail adds little to recall.
MAX_FIELD_CHARS = 20_000

#: Field weights, title first; FTS5 bm25() weights and the in-memory BM25 use these (PostgreSQL: weights A–D).
FIELD_WEIGHTS = {"title_tokens": 10.0, "summary_tokens": 5.0, "meta_tokens": 2.0, "body_tokens": 1.0}
TOKEN_FIELDS = tuple(FIELD_WEIGHTS)

_TOKEN_OK = re.compile(r"^[\w.']{1,64}$")
_EDGE_PUNCT = re.compile(r"^\W+|\W+$")


# --- documents ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """The ``search_docs`` row of one item."""

    item_id: int
    title_tokens: str
    summary_tokens: str
    meta_tokens: str
    body_tokens: str
    raw_text: str
    analyzer: str

    def values(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, and this runs once per stored item.
        return {
            "item_id": self.item_id,
            "title_tokens": self.title_tokens,
            "summary_tokens": self.summary_tokens,
            "meta_tokens": self.meta_tokens,
            "body_tokens": self.body_tokens,
            "raw_text": self.raw_text,
            "analyzer": self.analyzer,
        }


def _collapse(value: str) -> str:
    return " ".join(korean.normalize(value).split())


def _keywords(extra: Any) -> list[str]:
    keywords = extra.get("ai_keywords") if isinstance(extra, dict) else None
    if not isinstance(keywords, list):
        return []
    return [keyword for keyword in keywords if isinstance(keyword, str)]


def make_document(
    item_id: int,
    *,
    title: str,
    abstract: str,
    authors: Iterable[str],
    extra: Any,
    bullets: Sequence[str],
    fts5: bool = False,
) -> SearchDocument:
    """Analyse one item's fields (untrusted text is only tokenised, never interpreted).

    ``fts5``: the document is for SQLite, whose FTS5 ``unicode61`` tokenizer splits ASCII text exactly as the
    analyser would (words of letters and digits, case folded; ``v1.5`` and ``it's`` come apart either way), so ASCII
    fields are stored as they are and tokenised in SQLite, off the event loop's thread. A backfill of English
    papers spends a tenth of its time less in Python. Text with any other character goes through the analyser.
    """
    tokens = _fts5_tokens if fts5 else korean.index_text
    meta = " ".join([*(str(a) for a in authors), *_keywords(extra)])
    summary = " ".join(str(b) for b in bullets)
    abstract = (abstract or "")[:MAX_FIELD_CHARS]
    # The substring fallback (trigram index) covers what people half-remember: title, summary, authors and
    # keywords. Abstracts are searched by their tokens only: trigram-indexing them cost more than the rest of a
    # backfill put together (about 1 ms an item) for matches word search already finds.
    raw = " | ".join(part for part in (_collapse(title), _collapse(summary), _collapse(meta)))
    return SearchDocument(
        item_id=item_id,
        title_tokens=tokens(title or ""),
        summary_tokens=tokens(summary),
        meta_tokens=tokens(meta),
        body_tokens=abstract if fts5 and abstract.isascii() else " ".join(korean.index_tokens(abstract)),
        raw_text=raw,
        analyzer=korean.analyzer_name(),
    )


def _fts5_tokens(text: str) -> str:
    return text if text.isascii() else korean.index_text(text)


def analyse(item: Item, bullets: Sequence[str] = (), *, fts5: bool = False) -> SearchDocument:
    """The document of ``item`` whether or not it is stored yet (``item_id`` 0 until it is)."""
    return make_document(
        item.id or 0,
        title=item.title,
        abstract=item.abstract,
        authors=item.authors,
        extra=item.extra,
        bullets=bullets,
        fts5=fts5,
    )


def item_texts(item: Item, bullets: Sequence[str] = ()) -> list[str]:
    """The texts :func:`analyse` reads (to decide whether it needs a worker thread)."""
    return [item.title, item.abstract, *item.authors, *_keywords(item.extra), *bullets]


async def off_loop(work: Callable[[], T], texts: Iterable[str]) -> T:
    """``work()`` (an analysis of ``texts``) in a worker thread when it runs Kiwi, else right here.

    Never inside a write transaction: callers analyse first and then write what they prepared.
    """
    if korean.needs_model(texts):
        return await asyncio.to_thread(work)
    return work()


def build_document(item: Item, bullets: Sequence[str] = ()) -> SearchDocument:
    """The document of a stored item (``item.id`` set) with the bullets of its latest summary."""
    if item.id is None:
        raise ValueError("build_document needs a stored item (id set)")
    return make_document(
        item.id, title=item.title, abstract=item.abstract, authors=item.authors, extra=item.extra, bullets=bullets
    )


# --- queries --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A user query made safe: normalised text, analyser tokens and substring words (all possibly empty)."""

    text: str
    tokens: tuple[str, ...]
    words: tuple[str, ...]

    def tiers(self) -> list[SearchMatch]:
        tiers: list[SearchMatch] = []
        if self.tokens:
            tiers.append(SearchMatch.ALL)
        if len(self.tokens) > 1:
            tiers.append(SearchMatch.ANY)
        if self.words:
            tiers.append(SearchMatch.SUBSTRING)
        return tiers


async def parse_query_off_loop(query: str) -> ParsedQuery:
    """:func:`parse_query` in a worker thread when it needs Kiwi (a Korean query), else right here."""
    return await off_loop(lambda: parse_query(query), [query[: MAX_QUERY_CHARS * 4]])


def parse_query(query: str) -> ParsedQuery:
    """Normalise (NFKC, control and format characters such as NUL, U+202E and ZWJ removed, casefolded), cut to
    ``MAX_QUERY_CHARS``, and split into analyser tokens and substring words. Never raises on text input."""
    clean = " ".join(korean.normalize(query[: MAX_QUERY_CHARS * 4]).split())[:MAX_QUERY_CHARS]
    tokens = tuple(t for t in korean.query_tokens(clean, limit=MAX_QUERY_TOKENS) if _TOKEN_OK.match(t))
    words: list[str] = []
    for raw_word in clean.split():
        word = _EDGE_PUNCT.sub("", raw_word)[:64]
        if len(word) >= MIN_SUBSTRING_CHARS and any(ch.isalnum() for ch in word) and word not in words:
            words.append(word)
    return ParsedQuery(text=clean, tokens=tokens, words=tuple(words[:MAX_SUBSTRING_WORDS]))


def fts5_query(tokens: Sequence[str], *, any_token: bool) -> str:
    """An FTS5 MATCH expression: every token a quoted phrase (so AND, NOT, *, ( stay plain words)."""
    phrases = ['"' + token.replace('"', '""') + '"' for token in tokens]
    return (" OR " if any_token else " AND ").join(phrases)


def glob_pattern(word: str) -> str:
    """``*word*`` for GLOB with the GLOB metacharacters of ``word`` bracketed."""
    escaped = re.sub(r"([*?\[])", r"[\1]", word)
    return f"*{escaped}*"


def like_pattern(word: str) -> str:
    """``%word%`` for ``LIKE … ESCAPE '\\'`` with ``%``, ``_`` and the escape character escaped."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class SearchFilters:
    day_from: date | None = None
    sources: tuple[str, ...] | None = None
    kind: ItemKind | None = None


#: (item id, score, tier) in result order.
Ranked = list[tuple[int, float, SearchMatch]]


async def run_tiers(
    parsed: ParsedQuery,
    limit: int,
    tier_query: Callable[[SearchMatch, int], Awaitable[list[tuple[int, float]]]],
) -> Ranked:
    """Run the tiers in order until ``limit`` distinct items are found."""
    found: Ranked = []
    seen: set[int] = set()
    for tier in parsed.tiers():
        if len(found) >= limit:
            break
        if tier is SearchMatch.SUBSTRING and found and all(len(w) < TRIGRAM_CHARS for w in parsed.words):
            # Only short words: no trigram index can help, so this would be a full scan. Worth it for a query
            # that found nothing at all; not to pad a list that already has hits.
            break
        # Earlier hits may come again (``all`` ⊂ ``any``): ask for enough rows to fill the gap anyway.
        for item_id, score in await tier_query(tier, limit + len(found)):
            if item_id not in seen and len(found) < limit:
                seen.add(item_id)
                found.append((item_id, score, tier))
    return found


# --- SQL ------------------------------------------------------------------------------------------------------
# The statements below are assembled from fixed fragments only (hence the S608 waivers); every value, including
# the FTS5 MATCH expression and LIKE/GLOB patterns, is a bound parameter.


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
    params: dict[str, Any] = {"limit": limit, "candidates": RANK_CANDIDATES}
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
    params: dict[str, Any] = {"limit": limit, "candidates": RANK_CANDIDATES}
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


TRIGRAM_WARNING = (
    "pg_trgm sees no trigrams in Hangul in this database (LC_CTYPE is probably 'C'): Korean substring search "
    "still works but cannot use the trigram index; create the database with LC_CTYPE 'C.UTF-8'"
)


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


@dataclass(frozen=True, slots=True)
class DocumentSource:
    """What an item's search document is made of, as read from the database (``summary_id``: of the bullets)."""

    item_id: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    extra: Any
    bullets: tuple[str, ...]
    summary_id: int | None

    def texts(self) -> list[str]:
        return [self.title, self.abstract, *self.authors, *_keywords(self.extra), *self.bullets]

    def document(self, *, fts5: bool) -> SearchDocument:
        return make_document(
            self.item_id,
            title=self.title,
            abstract=self.abstract,
            authors=self.authors,
            extra=self.extra,
            bullets=self.bullets,
            fts5=fts5,
        )


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


# --- in memory ------------------------------------------------------------------------------------------------

_BM25_K1 = 1.2
_BM25_B = 0.75


class MemorySearchIndex:
    """The same tiers over plain dicts for ``InMemoryRepository``: BM25 with the field weights of FTS5."""

    def __init__(self) -> None:
        self._docs: dict[int, SearchDocument] = {}
        self._fields: dict[int, dict[str, Counter[str]]] = {}

    def put(self, doc: SearchDocument) -> None:
        self._docs[doc.item_id] = doc
        self._fields[doc.item_id] = {name: Counter(getattr(doc, name).split()) for name in TOKEN_FIELDS}

    def __len__(self) -> int:
        return len(self._docs)

    def _bm25(self, tokens: Sequence[str], candidates: list[int]) -> dict[int, float]:
        n_docs = len(self._fields) or 1
        average = {
            name: (sum(sum(fields[name].values()) for fields in self._fields.values()) / n_docs) or 1.0
            for name in TOKEN_FIELDS
        }
        scores: dict[int, float] = dict.fromkeys(candidates, 0.0)
        for token in tokens:
            df = sum(1 for fields in self._fields.values() if any(token in fields[n] for n in TOKEN_FIELDS))
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            for item_id in candidates:
                for name, weight in FIELD_WEIGHTS.items():
                    counts = self._fields[item_id][name]
                    tf = counts.get(token, 0)
                    if tf:
                        norm = 1 - _BM25_B + _BM25_B * sum(counts.values()) / average[name]
                        scores[item_id] += weight * idf * tf * (_BM25_K1 + 1) / (tf + _BM25_K1 * norm)
        return scores

    async def search(self, parsed: ParsedQuery, limit: int, allowed: Callable[[int], bool]) -> Ranked:
        """Ranked ids, in the same order as the SQL (newest first among substring hits and score ties);
        ``allowed`` applies the filters."""
        newest_first = sorted((item_id for item_id in self._docs if allowed(item_id)), reverse=True)

        def has(item_id: int, token: str) -> bool:
            return any(token in self._fields[item_id][name] for name in TOKEN_FIELDS)

        async def tier_query(tier: SearchMatch, n: int) -> list[tuple[int, float]]:
            if tier is SearchMatch.SUBSTRING:
                hits = [i for i in newest_first if all(word in self._docs[i].raw_text for word in parsed.words)]
                return [(i, 0.0) for i in hits[:n]]
            test = any if tier is SearchMatch.ANY else all
            hits = [i for i in newest_first if test(has(i, token) for token in parsed.tokens)][:RANK_CANDIDATES]
            scores = self._bm25(parsed.tokens, hits)
            return sorted(((i, scores[i]) for i in hits), key=lambda pair: (-pair[1], -pair[0]))[:n]

        return await run_tiers(parsed, limit, tier_query)
