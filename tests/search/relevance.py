"""Graded relevance evaluation of search (issue 16): the judged queries of tests/data/search/relevance.jsonl over
the search corpus plus the silver-summary papers, and recall@10, P@5 and nDCG@5 of what a Repository returns.

Used by tests/search/test_ranking.py (floors) and bench/eval_search.py (both analysers side by side). The grading
rules and the metric definitions are in tests/data/search/README.md.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from paperbot.domain import Item, ItemKind
from paperbot.ports import Repository
from tests.search.corpus import DATA, load_corpus, summary

RELEVANCE = DATA / "relevance.jsonl"
SILVER = DATA.parent / "summarize" / "silver_sample.jsonl"

#: A judged item counts as relevant for recall and precision from this grade (2: clearly useful; 1 is marginal).
RELEVANT = 2
RECALL_K = 10
PRECISION_K = 5
NDCG_K = 5


@dataclass(frozen=True, slots=True)
class Judged:
    """One judged query: arXiv id → grade 0-3 (unlisted items are 0)."""

    q: str
    lang: str
    kind: str
    half: str
    grades: dict[str, int]

    @property
    def relevant(self) -> set[str]:
        return {item for item, grade in self.grades.items() if grade >= RELEVANT}


def load_judgements() -> list[Judged]:
    judged: list[Judged] = []
    for line in RELEVANCE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data: dict[str, Any] = json.loads(line)
            judged.append(Judged(data["q"], data["lang"], data["kind"], data["half"], dict(data["grades"])))
    return judged


def silver_papers() -> list[dict[str, Any]]:
    """The silver-sample papers (id, day, title, abstract, ko_reference), in file order."""
    lines = SILVER.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _silver_item(paper: dict[str, Any]) -> Item:
    return Item(
        source="hf_daily",
        external_id=paper["id"],
        kind=ItemKind.PAPER,
        title=" ".join(paper["title"].split()),
        url=f"https://huggingface.co/papers/{paper['id']}",
        day=date.fromisoformat(paper["day"]),
        abstract=" ".join(paper["abstract"].split()),
    )


async def load_ranking_corpus(repository: Repository) -> dict[str, int]:
    """The search corpus (tests.search.corpus) plus the silver papers not already in it, each with its
    ``ko_reference`` as its summary; returns arXiv id → item id."""
    ids = await load_corpus(repository)
    papers = [paper for paper in silver_papers() if paper["id"] not in ids]
    for stored in await repository.add_items([_silver_item(paper) for paper in papers]):
        assert stored.value.id is not None
        ids[stored.value.external_id] = stored.value.id
    for paper in papers:
        await repository.add_summary(summary(ids[paper["id"]], list(paper["ko_reference"])))
    return ids


# --- metrics --------------------------------------------------------------------------------------------------


def recall_at(ranked: Sequence[str], judged: Judged, k: int = RECALL_K) -> float:
    """Relevant items in the top ``k`` / min(k, relevant items)."""
    relevant = judged.relevant
    return len(relevant.intersection(ranked[:k])) / min(k, len(relevant))


def precision_at(ranked: Sequence[str], judged: Judged, k: int = PRECISION_K) -> float:
    return len(judged.relevant.intersection(ranked[:k])) / k


def ideal_precision(judged: Judged, k: int = PRECISION_K) -> float:
    return min(k, len(judged.relevant)) / k


def ndcg_at(ranked: Sequence[str], judged: Judged, k: int = NDCG_K) -> float:
    """nDCG@k with gain 2^grade - 1 and log2(rank + 1) discount."""

    def dcg(grades: Sequence[int]) -> float:
        return sum((2**grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(grades[:k]))

    ideal = dcg(sorted(judged.grades.values(), reverse=True))
    return dcg([judged.grades.get(item, 0) for item in ranked]) / ideal


@dataclass(frozen=True, slots=True)
class QueryResult:
    judged: Judged
    ranked: tuple[str, ...]

    @property
    def recall(self) -> float:
        return recall_at(self.ranked, self.judged)

    @property
    def precision(self) -> float:
        return precision_at(self.ranked, self.judged)

    @property
    def ndcg(self) -> float:
        return ndcg_at(self.ranked, self.judged)

    @property
    def noise(self) -> int:
        """How many of the top 5 a query with nothing relevant fills."""
        return len(self.ranked[:PRECISION_K])


@dataclass(frozen=True, slots=True)
class Scores:
    """Mean recall@10, P@5 (and its ideal), nDCG@5 over the judged queries with a relevant item; mean noise@5 of
    the others."""

    n: int
    recall: float
    precision: float
    ideal_precision: float
    ndcg: float
    n_null: int
    noise: float


def scores(results: Sequence[QueryResult]) -> Scores:
    judged = [r for r in results if r.judged.relevant]
    null = [r for r in results if not r.judged.relevant]
    return Scores(
        n=len(judged),
        recall=statistics.fmean(r.recall for r in judged) if judged else 0.0,
        precision=statistics.fmean(r.precision for r in judged) if judged else 0.0,
        ideal_precision=statistics.fmean(ideal_precision(r.judged) for r in judged) if judged else 0.0,
        ndcg=statistics.fmean(r.ndcg for r in judged) if judged else 0.0,
        n_null=len(null),
        noise=statistics.fmean(r.noise for r in null) if null else 0.0,
    )


async def evaluate(
    repository: Repository, ids: dict[str, int], judgements: Sequence[Judged] | None = None
) -> list[QueryResult]:
    """Run every judged query through ``repository.search_items`` (the bot's search, top ``RECALL_K``)."""
    external = {item_id: external_id for external_id, item_id in ids.items()}
    results: list[QueryResult] = []
    for judged in judgements if judgements is not None else load_judgements():
        hits = await repository.search_items(judged.q, limit=RECALL_K)
        ranked = tuple(external[hit.item.id] for hit in hits if hit.item.id is not None)
        results.append(QueryResult(judged, ranked))
    return results


def table(rows: dict[str, Scores]) -> str:
    """The scores as a plain-text table, one row per label."""
    lines = [f"{'':24} {'n':>3} {'recall@10':>9} {'P@5':>6} {'(ideal)':>7} {'nDCG@5':>7} {'null':>4} {'noise@5':>7}"]
    for label, s in rows.items():
        lines.append(
            f"{label:24} {s.n:3d} {s.recall:9.3f} {s.precision:6.3f} {s.ideal_precision:7.3f} {s.ndcg:7.3f}"
            f" {s.n_null:4d} {s.noise:7.2f}"
        )
    return "\n".join(lines)
