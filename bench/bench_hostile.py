"""Hostile inputs (issue 14): time and peak memory of one ``collect`` against a local server, vs. a normal source.

Each scenario runs in its own fresh process (so ``ru_maxrss`` is that scenario's peak): a local HTTP server in a
thread, one source with ``source_deadline = 10``, the real ``collect`` into an in-memory repository. The baseline is
the same collect of a normal page and a normal feed (the saved Anthropic news page, the AWS ML feed), measured in
the same run. The feeds are English: Korean text would load the Korean analyser for search indexing (~500 MB, once
per process), which is not what is measured here. Targets: every hostile scenario ends within the 10 s deadline with a peak RSS under 300 MB.

Scenarios: ``quadratic_page`` (240 KB of ``<!--`` on a scraped page, html.parser's CVE-2025-6069 shape),
``escaped_title`` (the AWS feed with its first title made 290 KB of ``&lt;a``), ``stacked_bomb`` (``Content-Encoding: gzip, gzip``:
a few KB on the wire, 4 GiB inflated), ``gzip_bomb`` (one gzip layer: ~4 MB on the wire, 4 GiB inflated).

Usage: .venv/bin/python bench/bench_hostile.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 10.0
RSS_TARGET_MB = 300
BOMB_BYTES = 4 << 30
SCENARIOS = ("baseline", "quadratic_page", "escaped_title", "stacked_bomb", "gzip_bomb")


def _bomb_path() -> Path:
    """4 GiB of zeros, gzipped once (cached: it takes a while to make)."""
    path = Path(tempfile.gettempdir()) / f"paperbot-bench-gzip-bomb-{BOMB_BYTES}.gz"
    if not path.exists():
        compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        block = bytes(1 << 20)
        with path.open("wb") as out:
            for _ in range(BOMB_BYTES >> 20):
                out.write(compressor.compress(block))
            out.write(compressor.flush())
    return path


async def _child(scenario: str) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from tests.sources.helpers import FEEDS, PAGES
    from tests.sources.hostile import quadratic_page
    from tests.sources.localserver import Reply, local_server

    from paperbot.config import Settings
    from paperbot.httpclient import make_http_client
    from paperbot.service.collect import collect
    from paperbot.sources.feed import FeedSource
    from paperbot.sources.fetch import Fetcher
    from paperbot.sources.scrape import HtmlListSource
    from paperbot.store.memory import InMemoryRepository

    logging.disable(logging.CRITICAL)  # "source failed" is the expected outcome of the bombs
    english_feed = (FEEDS / "aws_ml_wordpress_rss.xml").read_text(encoding="utf-8")
    first_title = english_feed[english_feed.index("<item>") :].split("<title>", 1)[1].split("</title>", 1)[0]
    escaped_title = english_feed.replace(first_title, "&lt;a" * 58_000, 1).encode()  # 290 KB
    with local_server() as server:
        server.httpd.handle_error = lambda _request, _address: None  # type: ignore[method-assign]  # refused bodies
        settings = Settings(http_host_interval=0, http_retries=1, http_timeout=DEADLINE)
        async with make_http_client(settings) as http:
            fetcher = Fetcher.from_settings(settings.model_copy(update={"allow_private_networks": True}), http)

            def page(body: bytes, **headers: str) -> HtmlListSource:
                server.route("/news", Reply(body=body, headers={"Content-Type": "text/html; charset=utf-8", **headers}))
                return HtmlListSource(fetcher, name=scenario, url=f"{server.base}/news", link_pattern=r"^/news/[^/]+/?$",
                                      deadline=DEADLINE)  # fmt: skip

            def feed(body: bytes, **headers: str) -> FeedSource:
                server.route("/feed.xml", Reply(body=body, headers=headers))
                return FeedSource(fetcher, name=f"{scenario}_feed", url=f"{server.base}/feed.xml", deadline=DEADLINE)

            if scenario == "baseline":
                sources = [
                    page((PAGES / "anthropic_news.html").read_bytes()),
                    feed((FEEDS / "aws_ml_wordpress_rss.xml").read_bytes()),
                ]
            elif scenario == "quadratic_page":
                sources = [page(quadratic_page())]
            elif scenario == "escaped_title":
                sources = [feed(escaped_title)]
            elif scenario == "stacked_bomb":
                sources = [feed(gzip.compress(_bomb_path().read_bytes(), 9), **{"Content-Encoding": "gzip, gzip"})]
            else:
                sources = [feed(_bomb_path().read_bytes(), **{"Content-Encoding": "gzip"})]
            wire = sum(len(reply.body) for route in server.routes.values() for reply in [route(None)])  # type: ignore[arg-type]
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            report = await collect(InMemoryRepository(), sources, day=date(2025, 8, 22), now=datetime.now(UTC))
            seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "scenario": scenario,
        "seconds": seconds,
        "rss_mb": peak / 1024,
        "rss_before_mb": rss_before / 1024,
        "wire_bytes": wire,
        "outcomes": [(o.name, o.status.value, (o.error or "")[:90]) for o in report.sources],
    }


def _run(scenario: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(  # noqa: S603 (this very script, with a scenario name from SCENARIOS)
        [sys.executable, __file__, "--child", scenario],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=SCENARIOS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child))))
        return
    _bomb_path()
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in SCENARIOS}
    for _ in range(args.rounds):  # interleaved, so load changes hit every scenario alike
        for name in SCENARIOS:
            runs[name].append(_run(name))
    base_s = statistics.median(float(r["seconds"]) for r in runs["baseline"])  # type: ignore[arg-type]
    base_mb = statistics.median(float(r["rss_mb"]) for r in runs["baseline"])  # type: ignore[arg-type]
    print(
        f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, {args.rounds} rounds, deadline {DEADLINE:.0f} s"
    )
    print(
        f"{'scenario':<16}{'wire':>12}{'time s (min–max)':>26}{'× base':>8}{'peak RSS MB (min–max)':>26}{'× base':>8}  ok"
    )
    failed = False
    for name in SCENARIOS:
        seconds = [float(r["seconds"]) for r in runs[name]]  # type: ignore[arg-type]
        rss = [float(r["rss_mb"]) for r in runs[name]]  # type: ignore[arg-type]
        ok = max(seconds) < DEADLINE and max(rss) < RSS_TARGET_MB
        failed |= not ok
        print(
            f"{name:<16}{int(runs[name][0]['wire_bytes']):>12,}"  # type: ignore[call-overload]
            f"{statistics.median(seconds):>12.3f} ({min(seconds):.3f}–{max(seconds):.3f})"
            f"{statistics.median(seconds) / base_s:>8.1f}"
            f"{statistics.median(rss):>12.0f} ({min(rss):.0f}–{max(rss):.0f})"
            f"{statistics.median(rss) / base_mb:>8.2f}  {'yes' if ok else 'NO'}"
        )
        print(f"{'':<16}{runs[name][-1]['outcomes']}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
