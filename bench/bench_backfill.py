"""Backfill benchmark: 520 days of HF Daily Papers from a local server, paperbot vs plain fetch + json.loads.

The server cycles through the real API bodies in tests/data/sources/hf (13 days, 5-8 papers each, re-serialised),
so every day is one request. Baseline: one httpx client, GET each day in order, ``json.loads`` the body, nothing
stored. paperbot: the ``paperbot backfill`` path: the ``backfill()`` use case (4 days fetched at once, items stored
in batches of 1,000 with two batches in flight) through HFDailySource and the polite Fetcher (host pacing off, as
for a local mirror), storing into a fresh SQLite database with its search index. One warm-up day runs first so
one-time costs (migrations, connections) are not counted. The three are run interleaved ``--runs`` times (each
backfill into a fresh database) and the median ratio is the result (target <= 2); peak RSS is printed too. The
ratio of single runs moves by ±0.2 on a shared 2-core machine, hence the interleaving and the median.

    .venv/bin/python bench/bench_backfill.py [--days 520] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = [
    json.loads(path.read_bytes()) for path in sorted((ROOT / "tests" / "data" / "sources" / "hf").glob("20*.json"))
]
START = date(2024, 1, 1)


def body_for(day: date) -> bytes:
    """A real day's body with the arXiv ids made unique per day, as in a real backfill (every paper new)."""
    entries = TEMPLATES[(day - START).days % len(TEMPLATES)]
    for n, entry in enumerate(entries):
        entry["paper"]["id"] = f"{day:%y%m}.{day.day:02d}{n:03d}"
    return json.dumps(entries, ensure_ascii=False).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes; no 40 ms delayed-ACK stalls

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        day = date.fromisoformat(query.get("date", ["2024-01-01"])[0])
        body = body_for(day) if query.get("p", ["0"])[0] == "0" else b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


async def baseline(base: str, days: list[date]) -> int:
    papers = 0
    async with httpx.AsyncClient() as http:
        for day in days:
            response = await http.get(
                f"{base}/api/daily_papers", params={"date": day.isoformat(), "limit": 100, "p": 0}
            )
            papers += len(json.loads(response.content))
    return papers


async def paperbot_fetch_only(base: str, days: list[date]) -> int:
    """paperbot's own layer without storage: HFDailySource.fetch (Fetcher, parsing, mapping) per day."""
    from paperbot.config import Settings
    from paperbot.httpclient import make_http_client
    from paperbot.sources.fetch import Fetcher
    from paperbot.sources.hf import HFDailySource

    settings = Settings(hf_base_url=base, http_host_interval=0)
    papers = 0
    async with make_http_client(settings) as http:
        source = HFDailySource(Fetcher.from_settings(settings, http), base_url=base)
        for day in days:
            papers += len((await source.fetch(day)).items)
    return papers


async def paperbot_backfill(base: str, days: list[date], db_url: str) -> int:
    from paperbot.config import Settings
    from paperbot.httpclient import make_http_client
    from paperbot.service.collect import backfill
    from paperbot.sources.fetch import Fetcher
    from paperbot.sources.hf import HFDailySource
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    settings = Settings(database_url=db_url, hf_base_url=base, http_host_interval=0)
    repository = SqlRepository(create_engine(settings.database_url), owns_engine=True)
    new = 0
    try:
        async with make_http_client(settings) as http:
            source = HFDailySource(Fetcher.from_settings(settings, http), base_url=base)
            for report in await backfill(repository, [source], days):
                if report.failed:
                    raise SystemExit(f"collect failed on {report.day}: {report.failed[0].error}")
                new += len(report.new_items)
    finally:
        await repository.close()
    return new


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=520)
    parser.add_argument("--runs", type=int, default=5, help="interleaved repetitions; the median ratio is reported")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from paperbot.store.migrate import ensure_schema

    # The server runs in its own process: in-process server threads would compete with the code under test for
    # the GIL and make the concurrent backfill look slower than it is.
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serving = multiprocessing.get_context("fork").Process(target=server.serve_forever, daemon=True)
    serving.start()
    server.socket.close()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    days = [START + timedelta(days=offset) for offset in range(args.days)]
    base_runs: list[float] = []
    fetch_runs: list[float] = []
    ours_runs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up: imports, analyser, connections; one-time costs are not counted.
        warm_url = f"sqlite+aiosqlite:///{tmp}/warm.db"
        if problem := ensure_schema(warm_url):
            raise SystemExit(problem)
        asyncio.run(paperbot_backfill(base, [date(2023, 1, 1)], warm_url))
        # Interleaved runs, each backfill into a fresh database (every paper new), so a slow moment of a shared
        # machine hits both sides instead of deciding the ratio.
        for run in range(args.runs):
            db_url = f"sqlite+aiosqlite:///{tmp}/bench{run}.db"
            if problem := ensure_schema(db_url):
                raise SystemExit(problem)

            started = time.perf_counter()
            papers = asyncio.run(baseline(base, days))
            base_runs.append(time.perf_counter() - started)

            started = time.perf_counter()
            parsed = asyncio.run(paperbot_fetch_only(base, days))
            fetch_runs.append(time.perf_counter() - started)

            started = time.perf_counter()
            stored = asyncio.run(paperbot_backfill(base, days, db_url))
            ours_runs.append(time.perf_counter() - started)
            if stored != papers or parsed != papers:
                raise SystemExit(f"run {run}: served {papers} papers, parsed {parsed}, stored {stored}")
    serving.terminate()
    serving.join()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratios = sorted(ours / base for ours, base in zip(ours_runs, base_runs, strict=True))
    fetch_ratios = sorted(fetch / base for fetch, base in zip(fetch_runs, base_runs, strict=True))
    base_s, ours_s = statistics.median(base_runs), statistics.median(ours_runs)
    print(f"days: {len(days)}  papers served: {papers}  new items stored per run: {stored}  runs: {args.runs}")
    print(f"baseline (httpx GET + json.loads): median {base_s:.2f} s  ({base_s / len(days) * 1000:.1f} ms/day)")
    print(f"paperbot fetch + parse, no storage: median ratio {statistics.median(fetch_ratios):.2f}")
    print(f"paperbot backfill (collect + SQLite): median {ours_s:.2f} s  ({ours_s / len(days) * 1000:.1f} ms/day)")
    print(f"ratio per run (backfill / baseline of the same run): {' '.join(f'{r:.2f}' for r in ratios)}")
    print(f"ratio (median): {statistics.median(ratios):.2f}  (target <= 2)")
    print(f"peak RSS of the process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
