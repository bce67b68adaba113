"""Fetching against a real local HTTP server: timeouts, hangs, 429/Retry-After, 5xx, 304, redirects, SSRF, caps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import stamina
import stamina.instrumentation

from paperbot.config import Settings
from paperbot.errors import SourceError
from paperbot.httpclient import BlockedUrlError, check_url, make_http_client, user_agent
from paperbot.ports import Repository
from paperbot.sources.feed import FeedSource
from paperbot.sources.fetch import Fetcher, HttpStatusError, parse_retry_after
from paperbot.sources.hf import HFDailySource
from tests.sources.helpers import FEEDS, hf_json, listing_page
from tests.sources.localserver import LocalServer, Reply, Request, local_server


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"http_timeout": 2.0, "http_host_interval": 0.0, "http_retries": 3, **overrides}
    return Settings(**values)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(_settings()) as client:
        yield client


@pytest.fixture
def no_retry_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


def _fetcher(http: httpx.AsyncClient, **kwargs: Any) -> Fetcher:
    options: dict[str, Any] = {"attempts": 3, "host_interval": 0.0, "allow_private": True, **kwargs}
    return Fetcher(http, **options)


def _sequence(*replies: Reply) -> Any:
    queue = list(replies)

    def route(_request: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return route


async def test_timeout_is_a_source_error(server: LocalServer) -> None:
    server.route("/slow", Reply(hang=True))
    async with make_http_client(_settings(http_timeout=0.2)) as client:
        with pytest.raises(SourceError, match="timed out"):
            await _fetcher(client, attempts=1).get(f"{server.base}/slow")


async def test_hanging_source_is_cut_by_its_deadline_and_others_still_collected(
    server: LocalServer, repository: Repository
) -> None:
    """On every repository, PostgreSQL included (it refuses values SQLite takes)."""
    from paperbot.service.collect import SourceStatus, collect

    server.route("/api/daily_papers", Reply(hang=True))
    server.route("/feed.xml", Reply(body=(FEEDS / "aws_ml_wordpress_rss.xml").read_bytes()))
    async with make_http_client(_settings(http_timeout=30.0)) as client:
        fetcher = _fetcher(client, attempts=1)
        hanging = HFDailySource(fetcher, base_url=server.base, deadline=0.3)
        feed = FeedSource(fetcher, name="aws_ml", url=f"{server.base}/feed.xml")
        report = await collect(repository, [hanging, feed], day=date(2025, 8, 20))
    assert [(o.name, o.status) for o in report.sources] == [
        ("hf_daily", SourceStatus.FAILED),
        ("aws_ml", SourceStatus.OK),
    ]
    assert report.sources[0].error == "deadline exceeded"
    assert len(report.new_items) == 3
    state = await repository.get_source_state("hf_daily")
    assert state is not None and state.consecutive_failures == 1 and state.last_error == "deadline exceeded"


async def test_429_honours_retry_after(server: LocalServer, http: httpx.AsyncClient) -> None:
    server.route("/limited", _sequence(Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, b"[]")))
    waits: list[float] = []

    def record(details: stamina.instrumentation.RetryDetails) -> None:
        waits.append(details.wait_for)

    stamina.instrumentation.set_on_retry_hooks([record])
    try:
        response = await _fetcher(http, retry_max_wait=5.0).get(f"{server.base}/limited")
    finally:
        stamina.instrumentation.set_on_retry_hooks(None)
    assert response.status == 200 and response.content == b"[]"
    assert waits == [1.0]  # exactly what Retry-After said, not the exponential backoff with jitter
    assert server.paths() == ["/limited", "/limited"]


def test_retry_after_parsing_and_cap(http: httpx.AsyncClient) -> None:
    now = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Fri, 01 Aug 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    fetcher = _fetcher(http, retry_max_wait=10.0)
    assert fetcher._backoff(HttpStatusError("u", 429, 3600.0)) == 10.0
    assert fetcher._backoff(HttpStatusError("u", 503, None)) is True
    assert fetcher._backoff(HttpStatusError("u", 404, None)) is False


async def test_500_then_success(server: LocalServer, http: httpx.AsyncClient, no_retry_waits: None) -> None:
    server.route("/flaky", _sequence(Reply(500, b"oops"), Reply(200, b"ok")))
    response = await _fetcher(http).get(f"{server.base}/flaky")
    assert response.content == b"ok" and server.paths() == ["/flaky", "/flaky"]


async def test_persistent_500_and_404_are_source_errors(
    server: LocalServer, http: httpx.AsyncClient, no_retry_waits: None
) -> None:
    server.route("/down", Reply(503, b"down"))
    with pytest.raises(SourceError, match="HTTP 503"):
        await _fetcher(http).get(f"{server.base}/down")
    assert server.paths() == ["/down"] * 3
    with pytest.raises(SourceError, match="HTTP 404"):
        await _fetcher(http).get(f"{server.base}/missing")
    assert server.paths().count("/missing") == 1  # not retried


async def test_304_with_stored_etag_is_not_modified(server: LocalServer, http: httpx.AsyncClient) -> None:
    from paperbot.service.collect import SourceStatus, collect
    from paperbot.store.memory import InMemoryRepository

    body = (FEEDS / "huggingface_blog_rss.xml").read_bytes()  # English: no Korean analyser load in the store

    def feed(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(200, body, {"ETag": '"v1"', "Last-Modified": "Mon, 11 Aug 2025 01:00:00 GMT"})

    server.route("/d2.atom", feed)
    source = FeedSource(_fetcher(http), name="naver_d2", url=f"{server.base}/d2.atom")
    repository = InMemoryRepository()
    first = await collect(repository, [source], day=date(2025, 8, 11))
    second = await collect(repository, [source], day=date(2025, 8, 12))
    assert first.sources[0].status is SourceStatus.OK and first.sources[0].new == 3
    assert second.sources[0].status is SourceStatus.NOT_MODIFIED and second.items == []
    assert server.requests[1].headers["if-none-match"] == '"v1"'
    assert server.requests[1].headers["if-modified-since"] == "Mon, 11 Aug 2025 01:00:00 GMT"
    state = await repository.get_source_state("naver_d2")
    assert state is not None and state.etag == '"v1"' and state.consecutive_failures == 0


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/feed", "http://localhost:{port}/x"]
)
async def test_redirect_to_a_private_address_is_refused(
    server: LocalServer, http: httpx.AsyncClient, target: str
) -> None:
    server.route("/api/daily_papers", Reply(302, headers={"Location": target.format(port=server.port)}))
    server.route("/papers/date/2025-08-01", Reply(302, headers={"Location": target.format(port=server.port)}))
    # The HF base URL is the operator's own setting (trusted); where it redirects to is not.
    source = HFDailySource(_fetcher(http, allow_private=False), base_url=server.base)
    with pytest.raises(SourceError, match=r"non-public|loopback"):
        await source.fetch(date(2025, 8, 1))
    assert all(not path.startswith("/x") for path in server.paths())


async def test_user_feed_on_a_private_address_needs_the_switch(server: LocalServer, http: httpx.AsyncClient) -> None:
    server.route("/feed", Reply(body=(FEEDS / "kakao_tech_rss.xml").read_bytes()))
    refused = FeedSource(_fetcher(http, allow_private=False), name="mine", url=f"{server.base}/feed")
    with pytest.raises(BlockedUrlError):
        await refused.fetch(date(2025, 8, 1))
    assert server.requests == []
    allowed = FeedSource(_fetcher(http, allow_private=True), name="mine", url=f"{server.base}/feed")
    assert len((await allowed.fetch(date(2025, 8, 1))).items) == 3


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/feed", "file:///etc/passwd", "http://127.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
     "http://192.168.1.1/", "http://0.0.0.0/", "http://localhost/", "http://app.localhost/", "http:///nohost", "gopher://x"],
)  # fmt: skip
async def test_check_url_refuses(url: str) -> None:
    with pytest.raises(SourceError):
        await check_url(url)


async def test_check_url_allows_public_and_switch() -> None:
    await check_url("https://8.8.8.8/feed")
    await check_url("http://127.0.0.1:8080/feed", allow_private=True)
    await check_url("http://127.0.0.1:8080/x", trusted_origins=frozenset({"http://127.0.0.1:8080"}))
    with pytest.raises(BlockedUrlError):
        await check_url("http://127.0.0.1:8081/x", trusted_origins=frozenset({"http://127.0.0.1:8080"}))


async def test_size_cap_declared_and_streamed(server: LocalServer, http: httpx.AsyncClient) -> None:
    server.route("/big", Reply(body=b"x" * 5000))
    with pytest.raises(SourceError, match="cap"):
        await _fetcher(http, max_bytes=1024).get(f"{server.base}/big")

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 500

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=stream()))
    async with httpx.AsyncClient(transport=transport) as mocked:
        with pytest.raises(SourceError, match="cap"):
            await Fetcher(mocked, max_bytes=1024, allow_private=True).get("https://feeds.example.org/big")


async def test_user_agent_and_paging(server: LocalServer, http: httpx.AsyncClient) -> None:
    template = hf_json("2026-08-21")[0]
    page0 = []
    for n in range(100):
        entry = json.loads(json.dumps(template))
        entry["paper"]["id"] = f"2608.{10000 + n}"
        page0.append(entry)
    server.route("/api/daily_papers?date=2026-08-21&limit=100&p=0", Reply(body=json.dumps(page0).encode()))
    server.route(
        "/api/daily_papers?date=2026-08-21&limit=100&p=1", Reply(body=json.dumps(hf_json("2026-08-21")).encode())
    )
    source = HFDailySource(_fetcher(http), base_url=server.base, clock=lambda: datetime(2026, 8, 22, 1, tzinfo=UTC))
    result = await source.fetch(date(2026, 8, 21))
    assert len(result.items) == 108 and not result.not_ready
    assert server.paths() == [
        "/api/daily_papers?date=2026-08-21&limit=100&p=0",
        "/api/daily_papers?date=2026-08-21&limit=100&p=1",
    ]
    assert server.requests[0].headers["user-agent"] == user_agent(_settings())
    assert server.requests[0].headers["user-agent"].startswith("paperbot/")


async def test_api_failure_falls_back_to_the_listing_page(
    server: LocalServer, http: httpx.AsyncClient, no_retry_waits: None
) -> None:
    server.route("/api/daily_papers", Reply(502, b"<html>Bad gateway</html>"))
    server.route("/papers/date/2025-10-03", Reply(body=listing_page(hf_json("2025-10-03")).encode()))
    source = HFDailySource(_fetcher(http), base_url=server.base, clock=lambda: datetime(2025, 10, 4, tzinfo=UTC))
    result = await source.fetch(date(2025, 10, 3))
    assert [item.external_id for item in result.items] == [e["paper"]["id"] for e in hf_json("2025-10-03")]


async def test_unparseable_api_falls_back_and_both_failing_is_one_error(
    server: LocalServer, http: httpx.AsyncClient
) -> None:
    server.route("/api/daily_papers", Reply(body=b"<!DOCTYPE html><html>maintenance</html>"))
    server.route("/papers/date/2025-10-03", Reply(body=b"<html>new layout</html>"))
    source = HFDailySource(_fetcher(http), base_url=server.base)
    with pytest.raises(SourceError, match=r"API: not JSON.*listing page: no data-target"):
        await source.fetch(date(2025, 10, 3))


async def test_not_ready_early_in_the_day(server: LocalServer, http: httpx.AsyncClient) -> None:
    server.route("/api/daily_papers", Reply(body=json.dumps(hf_json("2026-08-21")[:1]).encode()))
    early = HFDailySource(_fetcher(http), base_url=server.base, clock=lambda: datetime(2026, 8, 21, 0, 30, tzinfo=UTC))
    assert (await early.fetch(date(2026, 8, 21))).not_ready
    late = HFDailySource(_fetcher(http), base_url=server.base, clock=lambda: datetime(2026, 8, 22, 9, tzinfo=UTC))
    assert not (await late.fetch(date(2026, 8, 21))).not_ready


async def test_fetch_one(server: LocalServer, http: httpx.AsyncClient) -> None:
    server.route("/api/papers/2608.19880", Reply(body=json.dumps(hf_json("2026-08-21")[0]["paper"]).encode()))
    source = HFDailySource(_fetcher(http), base_url=server.base)
    item = await source.fetch_one("2608.19880")
    assert item is not None and item.upvotes == 163 and item.authors[0] == "Chengsong Huang"
    assert await source.fetch_one("2608.00000") is None  # 404
    assert await source.fetch_one("../../etc/passwd") is None  # never requested
    assert "/api/papers/../../etc/passwd" not in server.paths()
