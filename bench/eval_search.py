"""Search quality of the two Korean analysers on the graded relevance set (issue 16), side by side.

Loads the judged corpus (tests/data/search: 94 real papers, hand-written and gpt-4o-mini Korean summaries) into a
fresh migrated SQLite database (the FTS5 path the bot uses) and into the in-memory repository, once per analyser
(``fallback``; ``kiwi`` when kiwipiepy is installed), runs the 68 judged queries of relevance.jsonl through
``search_items`` and prints recall@10, P@5 and nDCG@5 per analyser and backend, by half of the set and by query
kind, then every query whose figures differ between the analysers. The figures are deterministic (no timing), so
one run is the measurement; the seconds each analyser took to index and search are printed for scale only.

Usage: .venv/bin/python bench/eval_search.py [--backend sqlite|memory|both] [--half a|b] [--all-queries]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package: the corpus and the metrics

from tests.search.relevance import (
    Judged,
    QueryResult,
    evaluate,
    load_judgements,
    load_ranking_corpus,
    scores,
    table,
)

from paperbot import korean
from paperbot.ports import Repository
from paperbot.store import migrate
from paperbot.store.engine import create_engine
from paperbot.store.memory import InMemoryRepository
from paperbot.store.sql import SqlRepository


async def run(backend: str, analyser: str, judgements: Sequence[Judged], tmp: Path) -> tuple[list[QueryResult], float]:
    korean.configure(search_analyzer=analyser)
    assert korean.analyzer_name() == analyser
    korean.load()  # Kiwi's model loads here, not inside the figures below
    started = time.perf_counter()
    repository: Repository
    if backend == "sqlite":
        path = tmp / f"{analyser}.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(migrate.upgrade, url)  # it runs its own event loop
        repository = SqlRepository(create_engine(url), owns_engine=True)
    else:
        repository = InMemoryRepository()
    try:
        ids = await load_ranking_corpus(repository)
        results = await evaluate(repository, ids, judgements)
    finally:
        await repository.close()
    return results, time.perf_counter() - started


def paired(by_analyser: dict[str, list[QueryResult]], metric: str) -> str:
    """Second analyser minus the first on ``metric``, per query: mean, a bootstrap 95% interval (10,000 resamples,
    fixed seed) and the wins/ties/losses of the second."""
    first, second = list(by_analyser.values())[:2]
    diffs = [getattr(b, metric) - getattr(a, metric) for a, b in zip(first, second, strict=True) if a.judged.relevant]
    rng = random.Random(16)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(10_000))
    wins = sum(d > 1e-9 for d in diffs)
    losses = sum(d < -1e-9 for d in diffs)
    return (
        f"{metric:9} {statistics.fmean(diffs):+.3f} [{means[249]:+.3f}, {means[9749]:+.3f}]"
        f"  better on {wins}, worse on {losses}, same on {len(diffs) - wins - losses}"
    )


def differences(by_analyser: dict[str, list[QueryResult]]) -> list[str]:
    """Queries whose recall@10 or nDCG@5 differ between the analysers, with both top-5 lists."""
    names = list(by_analyser)
    lines: list[str] = []
    for rows in zip(*by_analyser.values(), strict=True):
        judged = rows[0].judged
        if len({(round(r.recall, 6), round(r.ndcg, 6)) if judged.relevant else r.noise for r in rows}) == 1:
            continue
        lines.append(f"  {judged.q!r} [{judged.kind}, half {judged.half}]")
        for name, result in zip(names, rows, strict=True):
            top = " ".join(f"{item}:{judged.grades.get(item, 0)}" for item in result.ranked[:5]) or "(nothing)"
            figures = (
                f"R@10 {result.recall:.2f} P@5 {result.precision:.2f} nDCG@5 {result.ndcg:.2f}"
                if judged.relevant
                else f"noise@5 {result.noise}"
            )
            lines.append(f"    {name:8} {figures}  top5 {top}")
    return lines


def all_queries(by_analyser: dict[str, list[QueryResult]]) -> list[str]:
    names = list(by_analyser)
    header = f"  {'query':32} {'kind':12} h " + " ".join(f"{name + ' R/P/nDCG':>22}" for name in names)
    lines = [header]
    for rows in zip(*by_analyser.values(), strict=True):
        judged = rows[0].judged
        cells = []
        for result in rows:
            if judged.relevant:
                cells.append(f"{result.recall:6.2f} {result.precision:6.2f} {result.ndcg:7.2f}")
            else:
                cells.append(f"{'noise@5 ' + str(result.noise):>21}")
        lines.append(f"  {judged.q[:32]:32} {judged.kind:12} {judged.half} " + " ".join(f"{c:>22}" for c in cells))
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "memory", "both"), default="both")
    parser.add_argument("--half", choices=("a", "b", "c"), help="only the queries of this half of the set")
    parser.add_argument(
        "--all-queries", action="store_true", help="print every query's figures, not just the differences"
    )
    args = parser.parse_args()
    judgements = [j for j in load_judgements() if args.half is None or j.half == args.half]
    analysers = ["fallback", *(["kiwi"] if korean.kiwi_installed() else [])]
    backends = ["sqlite", "memory"] if args.backend == "both" else [args.backend]
    print(f"{len(judgements)} judged queries{f' (half {args.half})' if args.half else ''}; analysers: {analysers}")
    if "kiwi" not in analysers:
        print("kiwipiepy is not installed: the kiwi column is missing (pip install -e '.[korean]')")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            by_analyser: dict[str, list[QueryResult]] = {}
            seconds: dict[str, float] = {}
            for analyser in analysers:
                by_analyser[analyser], seconds[analyser] = await run(backend, analyser, judgements, Path(tmp))
            print(f"\n== {backend} ({', '.join(f'{a} {s:.1f} s' for a, s in seconds.items())} to index and search)")
            rows = {}
            for analyser, results in by_analyser.items():
                rows[analyser] = scores(results)
                for half in ("a", "b", "c"):
                    part = [r for r in results if r.judged.half == half]
                    if part and args.half is None:
                        rows[f"{analyser} half {half}"] = scores(part)
                rows[f"{analyser} Korean queries"] = scores([r for r in results if r.judged.lang == "ko"])
            print(table(rows))
            kinds = sorted({r.judged.kind for r in next(iter(by_analyser.values())) if r.judged.relevant})
            print("\nnDCG@5 by query kind (n):")
            for kind in kinds:
                cells = []
                for analyser, results in by_analyser.items():
                    s = scores([r for r in results if r.judged.kind == kind])
                    cells.append(f"{analyser} {s.ndcg:.3f}")
                n = sum(1 for r in next(iter(by_analyser.values())) if r.judged.kind == kind)
                print(f"  {kind:12} ({n:2d})  " + "  ".join(cells))
            if len(by_analyser) > 1:
                names = list(by_analyser)
                print(f"\n{names[1]} - {names[0]}, paired over the queries with a relevant item:")
                for metric in ("recall", "precision", "ndcg"):
                    print("  " + paired(by_analyser, metric))
                lines = differences(by_analyser)
                print(f"\nqueries that differ ({sum(1 for line in lines if not line.startswith('    '))}):")
                print("\n".join(lines) or "  none")
            if args.all_queries:
                print("\nevery query:")
                print("\n".join(all_queries(by_analyser)))
    korean.configure(search_analyzer="fallback")


if __name__ == "__main__":
    asyncio.run(main())
