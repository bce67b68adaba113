"""Ranking quality on graded relevance judgements (issue 16): recall@10, P@5 and nDCG@5 of the real search (FTS5 on
SQLite as the bot runs it, and the in-memory index) with each Korean analyser, held to floors.

The floors are the figures measured on this branch minus a small margin (0.02 for the fallback; 0.03 for Kiwi,
whose figures may move a little across the kiwipiepy versions the extra allows), so that a change that loses one
or two queries' worth of quality fails. ``pytest -s`` prints the table; bench/eval_search.py prints both
analysers side by side with the queries where they differ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paperbot import korean
from paperbot.ports import Repository
from tests.search.corpus import load_items
from tests.search.relevance import (
    Judged,
    Scores,
    evaluate,
    load_judgements,
    load_ranking_corpus,
    ndcg_at,
    precision_at,
    recall_at,
    scores,
    silver_papers,
    table,
)

#: (backend, analyser) → {"all" | "ko": (recall@10, P@5, nDCG@5)} floors. Measured (95 queries, 86 with a
#: relevant item; kiwipiepy 0.24.1): sqlite fallback 0.775 / 0.367 / 0.723 (Korean queries 0.730 / 0.333 / 0.677),
#: sqlite kiwi 0.760 / 0.365 / 0.728 (0.712 / 0.328 / 0.683), memory fallback 0.774 / 0.365 / 0.714
#: (0.727 / 0.328 / 0.665), memory kiwi 0.759 / 0.370 / 0.720 (0.709 / 0.333 / 0.674).
FLOORS: dict[tuple[str, str], dict[str, tuple[float, float, float]]] = {
    ("sqlite", "fallback"): {"all": (0.75, 0.34, 0.70), "ko": (0.71, 0.31, 0.65)},
    ("sqlite", "kiwi"): {"all": (0.73, 0.33, 0.69), "ko": (0.68, 0.29, 0.65)},
    ("memory", "fallback"): {"all": (0.75, 0.34, 0.69), "ko": (0.70, 0.30, 0.64)},
    ("memory", "kiwi"): {"all": (0.72, 0.34, 0.69), "ko": (0.67, 0.30, 0.64)},
}


@pytest.fixture(params=["sqlite", "memory"])
def ranking_backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """The backend and its database URL (None: in memory). Sync, so the migrations may run (as in conftest)."""
    if request.param == "memory":
        return "memory", None
    return "sqlite", str(request.getfixturevalue("sqlite_url"))


@pytest.fixture
async def ranking_repository(ranking_backend: tuple[str, str | None]) -> AsyncIterator[tuple[str, Repository]]:
    """The bot's SQL search on a fresh migrated SQLite file, and the in-memory repository."""
    backend, url = ranking_backend
    if url is None:
        from paperbot.store.memory import InMemoryRepository

        yield backend, InMemoryRepository()
        return
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    repository = SqlRepository(create_engine(url), owns_engine=True)
    yield backend, repository
    await repository.close()


@pytest.fixture(params=["fallback", "kiwi"])
def ranking_analyser(request: pytest.FixtureRequest) -> str:
    """Each analyser in turn; Kiwi only when kiwipiepy is installed (the ``korean`` extra)."""
    if request.param == "kiwi":
        if not korean.kiwi_installed():
            pytest.skip("kiwipiepy is not installed (pip install -e '.[korean]')")
        request.getfixturevalue("kiwi_search")
    else:
        request.getfixturevalue("no_kiwi")
    assert korean.analyzer_name() == request.param
    return str(request.param)


def _judged(grades: dict[str, int]) -> Judged:
    return Judged(q="q", lang="ko", kind="plain", half="a", grades=grades)


def test_the_judged_set_is_big_bilingual_and_judged_on_the_corpus() -> None:
    judgements = load_judgements()
    corpus = {item.external_id for item in load_items()} | {paper["id"] for paper in silver_papers()}
    assert len(corpus) == 94
    assert len(judgements) >= 90
    assert len({j.q for j in judgements}) == len(judgements)
    assert sum(j.lang == "ko" for j in judgements) >= 60
    assert sum(j.lang == "en" for j in judgements) >= 15
    assert sum(not j.relevant for j in judgements) >= 7  # queries nothing in the corpus answers
    assert {"particle", "compound", "spacing", "mixed", "english", "null"} <= {j.kind for j in judgements}
    assert {j.half for j in judgements} == {"a", "b", "c"}
    for judged in judgements:
        assert set(judged.grades) <= corpus, judged.q
        assert all(grade in (1, 2, 3) for grade in judged.grades.values()), judged.q
        assert (judged.kind == "null") == (not judged.relevant), judged.q


def test_the_metrics_on_a_ranking_worked_by_hand() -> None:
    judged = _judged({"a": 3, "b": 2, "c": 1})
    ranked = ["x", "b", "c", "y", "a"]
    assert recall_at(ranked, judged) == 1.0  # a and b (grade >= 2) are both in the top 10
    assert recall_at(["b"], judged) == 0.5
    assert precision_at(ranked, judged) == 2 / 5
    # DCG = 3/log2(3) + 1/log2(4) + 7/log2(6); ideal = 7/1 + 3/log2(3) + 1/log2(4)
    assert ndcg_at(ranked, judged) == pytest.approx(
        (3 / 1.5849625 + 1 / 2 + 7 / 2.5849625) / (7 + 3 / 1.5849625 + 1 / 2), rel=1e-6
    )
    assert ndcg_at(["a", "b", "c"], judged) == pytest.approx(1.0)
    assert ndcg_at([], judged) == 0.0


def _assert_floors(label: str, got: Scores, floors: tuple[float, float, float]) -> None:
    recall, precision, ndcg = floors
    assert got.recall >= recall, f"{label}: recall@10 {got.recall:.3f} < {recall}"
    assert got.precision >= precision, f"{label}: P@5 {got.precision:.3f} < {precision}"
    assert got.ndcg >= ndcg, f"{label}: nDCG@5 {got.ndcg:.3f} < {ndcg}"


async def test_ranking_quality_is_above_the_floors(
    ranking_repository: tuple[str, Repository], ranking_analyser: str
) -> None:
    backend, repository = ranking_repository
    ids = await load_ranking_corpus(repository)
    results = await evaluate(repository, ids)
    overall = scores(results)
    in_korean = scores([r for r in results if r.judged.lang == "ko"])
    label = f"{backend} {ranking_analyser}"
    print("\n" + table({label: overall, f"{label} (Korean)": in_korean}))
    floors = FLOORS[(backend, ranking_analyser)]
    _assert_floors(label, overall, floors["all"])
    _assert_floors(f"{label} (Korean)", in_korean, floors["ko"])


@pytest.mark.usefixtures("no_kiwi")
async def test_the_floors_catch_a_fallback_without_compound_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The floors are not slack: the fallback without its two-syllable pieces (``언어모델`` no longer meets
    ``언어 모델``) falls below them."""
    from paperbot.store.memory import InMemoryRepository

    whole_words = korean._fallback_split
    monkeypatch.setattr(korean, "_fallback_split", lambda word, pieces=True: whole_words(word, pieces=False))
    repository = InMemoryRepository()
    ids = await load_ranking_corpus(repository)
    got = scores(await evaluate(repository, ids))
    print("\n" + table({"memory fallback, no pieces": got}))
    with pytest.raises(AssertionError):
        _assert_floors("no pieces", got, FLOORS[("memory", "fallback")]["all"])
