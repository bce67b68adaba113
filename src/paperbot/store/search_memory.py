"""The search tiers over plain dicts for ``InMemoryRepository`` (no SQLAlchemy): BM25 with the field weights
of FTS5."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

from paperbot.domain import SearchMatch
from paperbot.store import search
from paperbot.store.search import (
    FIELD_WEIGHTS,
    TOKEN_FIELDS,
    ParsedQuery,
    Ranked,
    SearchDocument,
    run_tiers,
)

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
            hits = [i for i in newest_first if test(has(i, token) for token in parsed.tokens)][: search.RANK_CANDIDATES]
            scores = self._bm25(parsed.tokens, hits)
            return sorted(((i, scores[i]) for i in hits), key=lambda pair: (-pair[1], -pair[0]))[:n]

        return await run_tiers(parsed, limit, tier_query)
