"""Full-text search over everything collected: documents and query parsing (pure; the SQL of each database is in
:mod:`paperbot.store.search_sql`, the in-memory index in :mod:`paperbot.store.search_memory`).

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
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from paperbot import korean
from paperbot.domain import Item, ItemKind, SearchMatch

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


TRIGRAM_WARNING = (
    "pg_trgm sees no trigrams in Hangul in this database (LC_CTYPE is probably 'C'): Korean substring search "
    "still works but cannot use the trigram index; create the database with LC_CTYPE 'C.UTF-8'"
)
