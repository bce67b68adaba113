"""Article fetch (issue 17): the extra wall time of a daily digest with 10 blog posts when each post's page is
fetched and extracted, against a local server answering every request after 200 ms.

One digest = ``collect`` of one RSS feed with 10 new posts (``first_fetch_limit`` 10, so none is backlog) into a
fresh SQLite database, ``summarize_pending`` with the offline summariser, ``build_digest`` and the Markdown, Discord
and Slack renders. Variants, run interleaved ``--rounds`` times in one process after one warm-up of each (imports,
the Korean analyser, trafilatura's first call):

- ``no_fetch``: ``article_fetch`` off — the baseline, measured in the same run;
- ``fetch_10_hosts``: every post on its own host (127.0.0.2 … 127.0.0.11, as a digest's posts come from several
  blogs), pages fetched 4 at a time (``ARTICLE_CONCURRENCY``), the default 1 s per-host pacing;
- ``fetch_1_host``: all 10 posts on the feed's own host: the per-host pacing (1 s) serialises them — the worst case.

Pages are the real pages of ``tests/data/articles`` (cycled). The server runs in its own process (its threads would
otherwise compete with the measured code for the GIL). Reported: median seconds and range per variant, and the
ratio to ``no_fetch`` of the same round (median and range).

    .venv/bin/python bench/bench_articles.py [--rounds 5] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    path
    for path in (ROOT / "tests" / "data" / "articles").glob("*.html")
    if not path.name.startswith("lilianweng")  # feed openings, not whole pages
)
POSTS = 10
HOSTS = [f"127.0.0.{n}" for n in range(1, POSTS + 2)]  # the feed's host, then one per post
VARIANTS = ("no_fetch", "fetch_10_hosts", "fetch_1_host")


def feed_xml(bases: list[str], published: datetime) -> bytes:
    items = "".join(
        f"<item><title>Engineering post {n}: lessons from production</title>"
        f"<link>{base}/post/{n}</link><guid>{base}/post/{n}</guid>"
        f"<pubDate>{format_datetime(published)}</pubDate>"
        f"<description>A short teaser of post {n}, as most feeds give.</description></item>"
        for n, base in enumerate(bases)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench blog</title>'
        f"<link>{bases[0]}</link><description>bench</description>{items}</channel></rss>"
    ).encode()


def serve(servers: list[ThreadingHTTPServer]) -> None:
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def make_servers(latency: float, published: datetime) -> tuple[list[ThreadingHTTPServer], list[str]]:
    pages = [path.read_bytes() for path in PAGES]
    servers: list[ThreadingHTTPServer] = []
    bases: list[str] = []
    feeds: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            time.sleep(latency)  # the network and the remote server, as one fixed delay
            if self.path in feeds:
                body, kind = feeds[self.path], "application/rss+xml"
            elif self.path.startswith("/post/"):
                body, kind = pages[int(self.path.rsplit("/", 1)[1]) % len(pages)], "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    for host in HOSTS:
        server = ThreadingHTTPServer((host, 0), Handler)
        server.daemon_threads = True
        servers.append(server)
        bases.append(f"http://{host}:{server.server_address[1]}")
    feeds["/feed-many.xml"] = feed_xml(bases[1:], published)
    feeds["/feed-one.xml"] = feed_xml([bases[0]] * POSTS, published)
    return servers, bases


async def digest(variant: str, feed_url: str, db_url: str, day: Any) -> dict[str, int]:
    from paperbot.config import Settings
    from paperbot.digest.render import render_discord, render_markdown, render_slack
    from paperbot.httpclient import make_http_client
    from paperbot.service.collect import collect
    from paperbot.service.digest import build_digest
    from paperbot.service.summarize import summarize_pending
    from paperbot.sources.article import ArticleFetcher
    from paperbot.sources.feed import FeedSource
    from paperbot.sources.fetch import Fetcher
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository
    from paperbot.summarize.offline import OfflineSummarizer

    settings = Settings(database_url=db_url, allow_private_networks=True)  # default pacing, retries, timeouts
    repository = SqlRepository(create_engine(settings.database_url), owns_engine=True)
    try:
        async with make_http_client(settings) as http:
            fetcher = Fetcher.from_settings(settings, http)
            source = FeedSource(fetcher, name="bench_blog", url=feed_url, first_fetch_limit=POSTS, company="Bench")
            articles = None if variant == "no_fetch" else ArticleFetcher(fetcher, deadline=settings.article_deadline)
            report = await collect(repository, [source], day=day, articles=articles)
            if report.failed:
                raise SystemExit(f"{variant}: collect failed: {report.failed[0].error}")
            await summarize_pending(repository, OfflineSummarizer(), day_from=day)
            built = await build_digest(repository, day=day)
            render_markdown(built)
            render_discord(built)
            render_slack(built)
    finally:
        await repository.close()
    nested = sum(1 for e in built.entries if e.summary is not None and 1 in e.summary.levels)
    ok = report.articles.ok if report.articles is not None else 0
    return {"posts": len(built.entries), "nested": nested, "articles_ok": ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import logging

    from paperbot.store.migrate import ensure_schema

    logging.disable(logging.WARNING)
    now = datetime.now(UTC)
    servers, bases = make_servers(args.latency, now.replace(microsecond=0))
    serving = multiprocessing.get_context("fork").Process(target=serve, args=(servers,), daemon=True)
    serving.start()
    for server in servers:
        server.socket.close()
    feeds = {
        "no_fetch": f"{bases[0]}/feed-many.xml",
        "fetch_10_hosts": f"{bases[0]}/feed-many.xml",
        "fetch_1_host": f"{bases[0]}/feed-one.xml",
    }
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    checks: dict[str, dict[str, int]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = Path(tmp) / "template.db"
            if problem := ensure_schema(f"sqlite+aiosqlite:///{template}"):
                raise SystemExit(problem)

            def run(variant: str, name: str) -> float:
                db = Path(tmp) / f"{name}.db"
                shutil.copyfile(template, db)
                started = time.perf_counter()
                checks[variant] = asyncio.run(digest(variant, feeds[variant], f"sqlite+aiosqlite:///{db}", now.date()))
                return time.perf_counter() - started

            for variant in VARIANTS:  # warm-up: one-time costs are not counted
                run(variant, f"warm-{variant}")
            for round_ in range(args.rounds):  # interleaved: a slow moment of the machine hits every variant
                for variant in VARIANTS:
                    seconds[variant].append(run(variant, f"{variant}-{round_}"))
    finally:
        serving.terminate()
        serving.join()
    for variant, got in checks.items():
        want_ok = 0 if variant == "no_fetch" else POSTS
        if got["posts"] != POSTS or got["articles_ok"] != want_ok or (want_ok and got["nested"] != POSTS):
            raise SystemExit(f"{variant}: unexpected digest {got}")
    print(
        f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, {args.rounds} rounds, "
        f"latency {args.latency * 1000:.0f} ms per request, {POSTS} posts, pages: {', '.join(p.name for p in PAGES)}"
    )
    print(f"{'variant':<16}{'median s (min–max)':>24}{'ratio to no_fetch, median (min–max)':>40}  digest")
    for variant in VARIANTS:
        runs = seconds[variant]
        ratios = [ours / base for ours, base in zip(runs, seconds["no_fetch"], strict=True)]
        print(
            f"{variant:<16}{statistics.median(runs):>10.3f} ({min(runs):.3f}–{max(runs):.3f})"
            f"{statistics.median(ratios):>22.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
            f"{'':>6}{checks[variant]}"
        )
    extra = [ours - base for ours, base in zip(seconds["fetch_10_hosts"], seconds["no_fetch"], strict=True)]
    print(
        f"extra wall time, 10 hosts: median {statistics.median(extra):.3f} s (min {min(extra):.3f}, "
        f"max {max(extra):.3f}); floor ceil(10/4) x latency = {-(-POSTS // 4) * args.latency:.3f} s"
    )


if __name__ == "__main__":
    main()
