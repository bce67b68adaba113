"""Search latency on 100,000 synthetic items (SQLite), against a ``LIKE '%…%'`` scan of the same rows.

Builds a throwaway SQLite database at head, bulk-loads synthetic items (English titles/abstracts drawn with a Zipf
distribution from the vocabulary of the real fixture abstracts in tests/data/search, Korean bullets sampled from
the hand-written fixture summaries, authors, HF keywords) together with their ``search_docs`` rows (the FTS5
triggers index them), then times ``SqlRepository.search_items`` (query analysis with Kiwi, every tier, loading the
items) and the baseline ``SELECT … WHERE raw_text LIKE '%query%'`` over the same rows through the same engine, in the
same run. Korean bullets go through the real analyser; English fields use the analyser's rule for text without
Hangul (lowercased words), computed directly so that loading takes a minute and not half an hour.

Usage: .venv/bin/python bench/bench_search.py [--items 100000] [--rounds 5] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from paperbot import korean
from paperbot.store import migrate
from paperbot.store.engine import create_engine
from paperbot.store.sql import SqlRepository

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "search"
WORD = re.compile(r"[A-Za-z][A-Za-z-]{2,}")

QUERIES = [
    # Korean: common, compound, with particles, rare
    "언어 모델",
    "언어모델",
    "확산 모델의 이미지 생성",
    "강화학습 추론",
    "멀티모달",
    "에이전트 벤치마크",
    "양자화",
    "기울기 역전 공격",
    "로봇 모방 학습",
    "텍스트 임베딩",
    "온폴리시 증류",
    "상태 공간 모델",
    # English: very common to rare, one and several words, names
    "model",
    "language models",
    "diffusion",
    "reinforcement learning",
    "attention",
    "quantization",
    "distillation",
    "benchmark evaluation",
    "video generation camera",
    "gradient inversion",
    "mixture of experts",
    "zero-shot",
    # partial words and odd input
    "transf",
    "Meisson",
    "' OR 1=1 --",
]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))
    return ordered[index]


def vocabulary() -> tuple[list[str], list[str]]:
    words: list[str] = []
    bullets: list[str] = []
    for path in sorted(DATA.glob("hf_daily_*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8")):
            words.extend(w.lower() for w in WORD.findall(entry["paper"]["title"] + " " + entry["paper"]["summary"]))
    for item_bullets in json.loads((DATA / "summaries_ko.json").read_text(encoding="utf-8")).values():
        bullets.extend(item_bullets)
    ranked = [w for w, _ in Counter(words).most_common()]
    return ranked, bullets


def collapse(value: str) -> str:
    return " ".join(korean.normalize(value).split())


def latin_tokens(value: str) -> str:
    return " ".join(korean._WORD_RE.findall(korean.normalize(value)))


def build(
    path: Path,
    n_items: int,
    rng: random.Random,
    *,
    days: int = 1000,
    papers_per_post: int = 4,
    weekday_weight: int = 1,
) -> None:
    """``n_items`` over ``days`` days from 2023-01-01, ``papers_per_post`` papers per blog post; with
    ``weekday_weight`` > 1 a weekday gets that many times the items of a weekend day (HF's real rhythm)."""
    words, bullets = vocabulary()
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    bullet_tokens = {b: korean.index_text(b) for b in bullets}  # the real analyser, once per distinct bullet
    analyzer = korean.analyzer_name()
    surnames = ["Kim", "Lee", "Park", "Chen", "Wang", "Smith", "Garcia", "Müller", "Tanaka", "Singh"]
    sources = ["hf_daily"] * 2 * papers_per_post + ["openai_blog", "deepmind_blog"]
    first_day = date(2023, 1, 1)
    calendar = [first_day + timedelta(days=n) for n in range(days + 1)]
    weights = list(itertools.accumulate(weekday_weight if d.weekday() < 5 else 1 for d in calendar))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    items, docs = [], []
    for n in range(1, n_items + 1):
        title = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(5, 10))).title()
        abstract = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(80, 150))) + "."
        authors = [f"{rng.choice(words).title()} {rng.choice(surnames)}" for _ in range(rng.randint(2, 6))]
        keywords = [" ".join(rng.choices(words, cum_weights=cumulative, k=2)) for _ in range(rng.randint(0, 5))]
        item_bullets = rng.sample(bullets, 3)
        source = rng.choice(sources)
        if weekday_weight == 1:
            day = first_day + timedelta(days=rng.randint(0, days))
        else:
            day = rng.choices(calendar, cum_weights=weights)[0]
        items.append(
            (
                n,
                source,
                f"synthetic-{n}",
                "paper" if source == "hf_daily" else "post",
                title,
                f"https://example.org/{n}",
                day.isoformat(),
                json.dumps(authors),
                abstract,
                rng.randint(0, 300),
                json.dumps({"ai_keywords": keywords}),
                "2025-01-01 00:00:00",
            )
        )
        meta = " ".join([*authors, *keywords])
        summary = " ".join(item_bullets)
        docs.append(
            (
                n,
                latin_tokens(title),
                " ".join(bullet_tokens[b] for b in item_bullets),
                latin_tokens(meta),
                latin_tokens(abstract),
                " | ".join((collapse(title), collapse(summary), collapse(meta), collapse(abstract))),
                analyzer,
            )
        )
    with conn:
        conn.executemany(
            "INSERT INTO items (id, source, external_id, kind, title, url, day, authors, abstract, upvotes, extra, "
            "first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            items,
        )
        conn.executemany(
            "INSERT INTO search_docs (item_id, title_tokens, summary_tokens, meta_tokens, body_tokens, raw_text, "
            "analyzer) VALUES (?, ?, ?, ?, ?, ?, ?)",
            docs,
        )
    conn.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    conn.execute("INSERT INTO search_trgm(search_trgm) VALUES ('optimize')")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


async def measure(url: str, rounds: int) -> dict[str, list[float]]:
    repository = SqlRepository(create_engine(url), owns_engine=True)
    engine = create_engine(url)
    timings: dict[str, list[float]] = {"search": [], "like_scan": [], "like_first": []}
    # The scan the target is about: every row's text tested (here counted, so no result transfer is timed).
    scan = text("SELECT count(*) FROM search_docs WHERE raw_text LIKE :pattern")
    # LIKE at its best: walk items newest day first through the (day, kind) index and stop at 10 matches.
    first = text(
        "SELECT search_docs.item_id FROM items JOIN search_docs ON search_docs.item_id = items.id "
        "WHERE search_docs.raw_text LIKE :pattern ORDER BY items.day DESC LIMIT 10"
    )
    try:
        await repository.search_items("warm up 모델")  # load Kiwi and open the pool outside the timings
        for _ in range(rounds):
            for query in QUERIES:
                started = time.perf_counter()
                await repository.search_items(query, limit=10)
                timings["search"].append(time.perf_counter() - started)
                pattern = f"%{korean.normalize(query)}%"
                for name, stmt in (("like_scan", scan), ("like_first", first)):
                    started = time.perf_counter()
                    async with engine.begin() as conn:
                        (await conn.execute(stmt, {"pattern": pattern})).all()
                    timings[name].append(time.perf_counter() - started)
    finally:
        await engine.dispose()
        await repository.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", help="build the database here and keep it (reused when it exists)")
    args = parser.parse_args()
    rng = random.Random(20250317)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        if not path.exists():
            migrate.upgrade(url)
            started = time.perf_counter()
            build(path, args.items, rng)
            elapsed = time.perf_counter() - started
            print(f"built {args.items:,} items in {elapsed:.1f} s ({path.stat().st_size / 1e6:.0f} MB)")
        else:
            print(f"reusing {path} ({path.stat().st_size / 1e6:.0f} MB)")
        print(f"analyser: {korean.analyzer_name()}; {len(QUERIES)} queries x {args.rounds} rounds; limit 10")
        timings = asyncio.run(measure(url, args.rounds))
    ours = timings["search"]
    print(f"{'':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, label in (
        ("search", "search_items (all tiers)"),
        ("like_scan", "LIKE scan of every row"),
        ("like_first", "LIKE, newest 10 (early exit)"),
    ):
        samples = timings[name]
        print(
            f"{label:28} {percentile(samples, 50) * 1e3:8.2f} {percentile(samples, 95) * 1e3:8.2f} "
            f"{max(samples) * 1e3:8.2f}"
        )
    for name, label in (("like_scan", "scan of every row"), ("like_first", "newest 10, early exit")):
        base = timings[name]
        print(
            f"ratio LIKE ({label}) / search: p50 {percentile(base, 50) / percentile(ours, 50):.1f}x, "
            f"p95 {percentile(base, 95) / percentile(ours, 95):.1f}x, "
            f"mean {statistics.mean(base) / statistics.mean(ours):.1f}x"
        )
    p95 = percentile(ours, 95) * 1e3
    print(f"target p95 <= 20 ms: {'met' if p95 <= 20 else 'NOT met'} ({p95:.1f} ms)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
