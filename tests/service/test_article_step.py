"""The article step of collect (issue 17): shown posts' pages fetched at most once a day, stored, and used by the
summariser; a failing page never drops its post. Over every Repository implementation, with a local server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from paperbot.config import Settings
from paperbot.domain import Article, ArticleStatus, Item, ItemKind
from paperbot.httpclient import make_http_client
from paperbot.ports import FetchResult, Repository
from paperbot.service.collect import SourceStatus, collect
from paperbot.service.summarize import summarize_pending
from paperbot.sources.article import ArticleFetcher
from paperbot.sources.fetch import Fetcher
from paperbot.summarize.offline import OfflineSummarizer
from tests.sources.localserver import LocalServer, Reply, local_server
from tests.sources.test_collect import FakeSource

PAGES = Path(__file__).resolve().parent.parent / "data" / "articles"
DAY = date(2026, 12, 2)
T1 = datetime(2026, 12, 2, 1, tzinfo=UTC)
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        running.route("/ok", Reply(200, (PAGES / "github.blog.spiceland.html").read_bytes(), HTML))
        running.route("/fail", Reply(503, b"busy", HTML))
        running.route("/backlog", Reply(200, (PAGES / "blog.python.org.html").read_bytes(), HTML))
        running.route("/old", Reply(200, (PAGES / "lemire.me.json.html").read_bytes(), HTML))
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(Settings(http_timeout=2.0, http_host_interval=0.0)) as client:
        yield client


def post(base: str, path: str, *, day: date = DAY, backlog: bool = False) -> Item:
    return Item(
        source="blog",
        external_id=path,
        kind=ItemKind.POST,
        title=f"Post {path}",
        url=f"{base}{path}",
        day=day,
        abstract="Every March we recognize the women who have shaped history.",
        published_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
        extra={"backlog": True} if backlog else {},
    )


def articles(http: httpx.AsyncClient, now: list[datetime]) -> ArticleFetcher:
    return ArticleFetcher(Fetcher(http, attempts=3, host_interval=0.0, allow_private=True), clock=lambda: now[0])


async def test_at_most_one_request_per_shown_post_per_day(
    repository: Repository, server: LocalServer, http: httpx.AsyncClient
) -> None:
    items = [
        post(server.base, "/ok"),
        post(server.base, "/fail"),
        post(server.base, "/backlog", backlog=True),
        post(server.base, "/old", day=DAY - timedelta(days=30)),
    ]
    feed = FakeSource("blog", FetchResult(items=items))
    now = [T1]
    fetcher = articles(http, now)
    # First seen today: new items, so even the month-old post may be shown once.
    first = await collect(repository, [feed], day=DAY, now=T1, articles=fetcher)
    assert first.outcome("blog") is not None and first.outcome("blog").status is SourceStatus.OK  # type: ignore[union-attr]
    assert sorted(server.paths()) == ["/fail", "/ok", "/old"]  # never the backlog; a 503 is not retried
    assert first.articles is not None and (first.articles.ok, first.articles.fallback) == (2, 1)
    assert first.articles.reasons == {"http": 1}
    now[0] = T1 + timedelta(hours=5)
    again = await collect(repository, [feed], day=DAY, now=now[0], articles=fetcher)
    assert sorted(server.paths()) == ["/fail", "/ok", "/old"]  # same day: nothing fetched again
    assert again.articles is not None and again.articles.fetched == 0
    now[0] = T1 + timedelta(days=1)
    tomorrow = await collect(repository, [feed], day=DAY + timedelta(days=1), now=now[0], articles=fetcher)
    # The next day only the page that failed is tried again (once); the month-old post is no longer new.
    assert sorted(server.paths()) == ["/fail", "/fail", "/ok", "/old"]
    assert tomorrow.articles is not None and tomorrow.articles.fetched == 1
    stored = await repository.get_articles([entry.item.id for entry in tomorrow.items if entry.item.id])
    by_path = {article.url.removeprefix(server.base): article for article in stored.values()}
    assert by_path["/ok"].status is ArticleStatus.OK
    assert by_path["/fail"].status is ArticleStatus.FALLBACK and by_path["/fail"].reason == "http(503)"
    assert "/backlog" not in by_path


async def test_summaries_use_the_stored_article_and_never_refetch(
    repository: Repository, server: LocalServer, http: httpx.AsyncClient
) -> None:
    feed = FakeSource("blog", FetchResult(items=[post(server.base, "/ok"), post(server.base, "/fail")]))
    await collect(repository, [feed], day=DAY, now=T1, articles=articles(http, [T1]))
    fetched = list(server.paths())
    summarizer = OfflineSummarizer()
    report = await summarize_pending(repository, summarizer, day_from=DAY)
    assert report.pending == 2
    by_url = {}
    for summary in report.summaries:
        item = await repository.get_item(summary.item_id)
        assert item is not None
        by_url[item.url.removeprefix(server.base)] = summary
    nested = by_url["/ok"]
    assert 1 in nested.levels and len(nested.levels) == len(nested.bullets)
    assert any("How would you summarize your career (so far) in a single sentence?" in b for b in nested.bullets), (
        nested.bullets
    )
    flat = by_url["/fail"]  # the page failed: the post keeps its excerpt's summary, never dropped
    assert flat.levels == () and flat.bullets
    again = await summarize_pending(repository, summarizer, day_from=DAY)
    assert again.pending == 0  # the article-based summary is current: nothing re-made
    assert server.paths() == fetched  # and summarising never fetches


class Broken:
    async def fetch_article(self, item: Item, previous: Article | None = None) -> Article:
        raise RuntimeError("adapter bug")


async def test_a_broken_article_source_never_fails_the_collect(repository: Repository, server: LocalServer) -> None:
    feed = FakeSource("blog", FetchResult(items=[post(server.base, "/ok")]))
    report = await collect(repository, [feed], day=DAY, now=T1, articles=Broken())
    assert report.outcome("blog") is not None and report.outcome("blog").ok  # type: ignore[union-attr]
    assert len(report.new_items) == 1
    assert report.articles is not None and report.articles.fetched == 0
