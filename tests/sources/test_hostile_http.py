"""Issue 14, findings 2, 3, 4 and 10 against a real local server: parsing that blocked the event loop, stacked and
bounded decompression, IPv6 forms of internal addresses and DNS rebinding, credentials in the HF base URL."""

from __future__ import annotations

import ast
import asyncio
import gzip
import logging
import socket
import ssl
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperbot.config import Settings
from paperbot.errors import SourceError
from paperbot.httpclient import BlockedUrlError, check_url, make_http_client
from paperbot.service.collect import SourceStatus, collect
from paperbot.sources.feed import FeedSource
from paperbot.sources.fetch import Fetcher
from paperbot.sources.hf import HFDailySource
from paperbot.sources.scrape import HtmlListSource
from paperbot.store.memory import InMemoryRepository
from tests.sources.helpers import FEEDS
from tests.sources.hostile import escaped_title_feed, quadratic_page
from tests.sources.localserver import LocalServer, Reply, Request, local_server

SRC = Path(__file__).resolve().parents[2] / "src" / "paperbot"
NOW = datetime(2025, 8, 23, 0, 5, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"http_timeout": 5.0, "http_host_interval": 0.0, "http_retries": 1, **overrides}
    return Settings(**values)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(_settings()) as client:
        yield client


class _Ticker:
    """Measures the longest stretch the event loop went without running a 20 ms timer."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._last = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def _tick(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            self._tick()

    async def __aenter__(self) -> _Ticker:
        self._last = time.monotonic()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._tick()  # a loop blocked until just now never ran the timer: count that stretch too
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


# --- finding 2: parsing never blocks the event loop ------------------------------------------------------------


async def _warm_up_the_korean_analyser(repository: InMemoryRepository) -> None:
    """Storing Korean text loads Kiwi once per process (~1–4 s in the loop, search indexing): not what is measured."""
    from paperbot.domain import Item, ItemKind

    warm = Item(source="warm", external_id="w", kind=ItemKind.POST, title="한국어 형태소 분석", url="https://x.example/w",
                day=date(2025, 8, 1), abstract="카카오의 자체 언어 모델을 소개합니다.")  # fmt: skip
    await repository.add_items([warm])


async def test_quadratic_markup_neither_blocks_the_loop_nor_outlives_the_deadline(
    server: LocalServer, http: httpx.AsyncClient
) -> None:
    """240 KB of ``<!--`` (a scraped page) and 290 KB of ``&lt;a`` (a feed title): html.parser took minutes and
    33 s with the loop blocked, so ``source_deadline=10`` could not fire and the feed was then reported ok."""
    server.route("/news", Reply(body=quadratic_page(), headers={"Content-Type": "text/html; charset=utf-8"}))
    server.route("/feed.xml", Reply(body=escaped_title_feed()))
    fetcher = Fetcher(http, attempts=1, host_interval=0, allow_private=True)
    page = HtmlListSource(fetcher, name="page", url=f"{server.base}/news", link_pattern=r"^/news/", deadline=10)
    feed = FeedSource(fetcher, name="feed", url=f"{server.base}/feed.xml", first_fetch_limit=10, deadline=10)
    repository = InMemoryRepository()
    await _warm_up_the_korean_analyser(repository)
    started = time.monotonic()
    async with _Ticker() as ticker:
        report = await collect(repository, [page, feed], day=date(2025, 8, 22), now=NOW)
    assert time.monotonic() - started < 10
    assert ticker.longest < 2.0  # the loop kept running (html.parser held it for the whole parse)
    assert [(o.name, o.status) for o in report.sources] == [("page", SourceStatus.OK), ("feed", SourceStatus.OK)]
    assert [c.item.title for c in report.items if c.item.source == "page"] == ["A real post"]
    feed_titles = {c.item.title for c in report.items if c.item.source == "feed"}
    assert feed_titles == {
        "추천 시스템의 실시간 피처 스토어",
        "카카오톡 메시지 검색 개선기",
    }  # the <a<a<a… title has no text
    assert report.sources[1].skipped == 1


async def test_the_hf_listing_fallback_parses_a_quadratic_page_without_blocking(
    server: LocalServer, http: httpx.AsyncClient
) -> None:
    server.route("/api/daily_papers", Reply(500, b"down"))
    server.route("/papers/date/2025-08-22", Reply(body=quadratic_page()))
    source = HFDailySource(
        Fetcher(http, attempts=1, host_interval=0, allow_private=True), base_url=server.base, deadline=10
    )
    repository = InMemoryRepository()
    await _warm_up_the_korean_analyser(repository)
    async with _Ticker() as ticker:
        report = await collect(repository, [source], day=date(2025, 8, 22), now=NOW)
    assert ticker.longest < 2.0
    assert report.sources[0].status is SourceStatus.FAILED
    assert report.sources[0].error is not None and "no data-target='DailyPapers'" in report.sources[0].error


async def test_a_parse_that_outlives_its_deadline_is_cut_and_stops(
    server: LocalServer, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline cancels the wait; the parse thread sees it at its next checkpoint and stops."""
    from paperbot.sources import feed as feed_module

    entries_seen: list[int] = []
    real = feed_module.parse_entry

    def slow_entry(*args: Any, **kwargs: Any) -> Any:
        entries_seen.append(1)
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(feed_module, "parse_entry", slow_entry)
    many = (FEEDS / "kakao_tech_rss.xml").read_text(encoding="utf-8")
    item = many[many.index("<item>") : many.index("</item>") + 7]
    body = many.replace(item, "".join(item.replace("posts/742", f"posts/{n}") for n in range(100)), 1)
    server.route("/feed.xml", Reply(body=body.encode()))
    source = FeedSource(
        Fetcher(http, attempts=1, host_interval=0, allow_private=True),
        name="slow",
        url=f"{server.base}/feed.xml",
        deadline=0.5,
    )
    report = await collect(InMemoryRepository(), [source], day=date(2025, 8, 22), now=NOW)
    assert report.sources[0].error == "deadline exceeded"
    seen = len(entries_seen)
    await asyncio.sleep(0.6)
    assert len(entries_seen) <= seen + 1  # stopped at the next entry, not after all 100


def test_no_html_parser_parses_untrusted_input() -> None:
    """Every HTML parse goes through BeautifulSoup on lxml: nothing in paperbot imports html.parser."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(name == "html.parser" or name.startswith("html.parser.") for name in names):
                offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


# --- finding 3: decompression bounded ----------------------------------------------------------------------------


def _zeros_gzip(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed in pieces (never ``size`` bytes in memory at once)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join([*parts, compressor.flush()])


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _zeros_gzip(256 << 20)  # 256 MiB of zeros in ~250 KB


def _peak_while(run: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_stacked_content_codings_are_refused_before_inflating(
    server: LocalServer, http: httpx.AsyncClient, bomb: bytes
) -> None:
    stacked = gzip.compress(bomb, compresslevel=9)
    assert len(stacked) < 10_000
    server.route("/feed.xml", Reply(body=stacked, headers={"Content-Encoding": "gzip, gzip"}))
    fetcher = Fetcher(http, attempts=1, host_interval=0, allow_private=True, max_bytes=1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match="stacked content codings"):
            await fetcher.get(f"{server.base}/feed.xml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


async def test_a_single_gzip_bomb_stops_at_the_cap_without_inflating_the_rest(
    server: LocalServer, http: httpx.AsyncClient, bomb: bytes
) -> None:
    server.route("/feed.xml", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    fetcher = Fetcher(http, attempts=1, host_interval=0, allow_private=True, max_bytes=1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=r"over the 1000000-byte cap \(decompressed\)"):
            await fetcher.get(f"{server.base}/feed.xml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # httpx inflated a whole 64 KB network chunk at once: ~64 MB of zeros


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", lambda data: gzip.compress(data[:1000]) + gzip.compress(data[1000:])),  # two gzip members
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
        ("identity", lambda data: data),
    ],
)
async def test_supported_codings_decode_exactly(
    server: LocalServer, http: httpx.AsyncClient, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    body = (FEEDS / "kakao_tech_rss.xml").read_bytes()
    server.route("/feed.xml", Reply(body=encode(body), headers={"Content-Encoding": encoding}))
    response = await Fetcher(http, attempts=1, host_interval=0, allow_private=True).get(f"{server.base}/feed.xml")
    assert response.content == body


async def test_an_unasked_coding_and_a_corrupt_body_are_source_errors(
    server: LocalServer, http: httpx.AsyncClient
) -> None:
    server.route("/br", Reply(body=b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"}))
    server.route("/corrupt", Reply(body=b"\x1f\x8b\x08\x00garbage-not-deflate", headers={"Content-Encoding": "gzip"}))
    fetcher = Fetcher(http, attempts=1, host_interval=0, allow_private=True)
    with pytest.raises(SourceError, match="not asked for"):
        await fetcher.get(f"{server.base}/br")
    with pytest.raises(SourceError, match="corrupt gzip"):
        await fetcher.get(f"{server.base}/corrupt")


# --- finding 4: SSRF -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::127.0.0.1]/",  # IPv4-compatible
        "http://[::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address 169.254.169.254
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64 (RFC 8215)
        "http://[2002:a9fe:a9fe::]/",  # 6to4
        "http://[2002:7f00:1::1]/",
        "http://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated (SIIT)
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped
        "http://[fec0::1]/",  # site-local
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    ],
)
async def test_ipv6_forms_of_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedUrlError):
        await check_url(url)


async def test_ipv6_forms_of_public_addresses_pass() -> None:
    for url in ("http://[2002:808:808::1]/", "http://[64:ff9b::808:808]/", "http://[2606:4700:4700::1111]/"):
        await check_url(url)


def _patch_resolver(monkeypatch: pytest.MonkeyPatch, answer: Callable[[str, int, int], str]) -> list[str]:
    """A DNS server for *.paperbot.test answering ``answer(host, port, lookup_number)``, behind both the running
    loop's getaddrinfo and socket.getaddrinfo (which any library's resolution ends in)."""
    loop = asyncio.get_running_loop()
    real_loop, real_socket = loop.getaddrinfo, socket.getaddrinfo
    calls: list[str] = []

    def name(host: Any) -> str:
        return host.decode("idna") if isinstance(host, bytes) else str(host)  # anyio passes IDNA bytes

    def answer_for(host: Any, port: Any) -> list[Any]:
        calls.append(name(host))
        address = answer(name(host), int(port), len(calls))
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    async def loop_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not name(host).endswith(".paperbot.test"):
            return await real_loop(host, port, *args, **kwargs)
        return answer_for(host, port)

    def socket_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not name(host).endswith(".paperbot.test"):
            return real_socket(host, port, *args, **kwargs)
        return answer_for(host, port)

    monkeypatch.setattr(loop, "getaddrinfo", loop_getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", socket_getaddrinfo)
    return calls


async def test_dns_rebinding_cannot_switch_the_address_after_the_check(
    server: LocalServer, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check saw a public address, the connection would have gone to 127.0.0.1: it is refused instead."""
    server.route("/feed.xml", Reply(body=(FEEDS / "kakao_tech_rss.xml").read_bytes()))
    calls = _patch_resolver(monkeypatch, lambda host, port, n: "93.184.215.14" if n == 1 else "127.0.0.1")
    fetcher = Fetcher(http, attempts=1, host_interval=0)
    with pytest.raises(BlockedUrlError, match=r"non-public address 127\.0\.0\.1"):
        await fetcher.get(f"http://rebind.paperbot.test:{server.port}/feed.xml")
    assert server.requests == []
    assert calls == ["rebind.paperbot.test", "rebind.paperbot.test"]


async def test_the_pinned_connection_keeps_host_header_sni_and_certificate_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Connected to the checked IP, the request still says Host: feeds.paperbot.test, TLS sends that name as SNI
    and the certificate is verified for it."""
    import trustme

    from paperbot import httpclient

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("feeds.paperbot.test").configure_cert(server_context)
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    monkeypatch.setattr(httpclient, "is_public_address", lambda address: True)  # as if 127.0.0.1 were a public host
    calls = _patch_resolver(monkeypatch, lambda host, port, n: "127.0.0.1")
    with local_server() as server:
        server.httpd.socket = server_context.wrap_socket(server.httpd.socket, server_side=True)
        server.httpd.handle_error = lambda _request, _address: None  # type: ignore[method-assign]  # the refused handshake
        hosts: list[str] = []

        def feed(request: Request) -> Reply:
            hosts.append(request.headers["host"])
            return Reply(body=(FEEDS / "kakao_tech_rss.xml").read_bytes())

        server.route("/feed.xml", feed)
        async with make_http_client(_settings(), verify=client_context) as client:
            fetcher = Fetcher(client, attempts=1, host_interval=0)
            response = await fetcher.get(f"https://feeds.paperbot.test:{server.port}/feed.xml")
            with pytest.raises(SourceError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
                await fetcher.get(f"https://other.paperbot.test:{server.port}/feed.xml")
    assert response.status == 200
    assert hosts == [f"feeds.paperbot.test:{server.port}"]
    assert "feeds.paperbot.test" in names and "other.paperbot.test" in names
    assert calls.count("feeds.paperbot.test") == 2  # the check, then the connection: no third, unchecked lookup


async def test_llm_and_chat_requests_outside_a_fetch_are_not_restricted(server: LocalServer) -> None:
    """The guard applies to source fetches only: an operator's local LLM on 127.0.0.1 still answers."""
    server.route("/v1/models", Reply(body=b"{}"))
    async with make_http_client(_settings()) as client:
        response = await client.get(f"{server.base}/v1/models")
    assert response.status_code == 200


# --- finding 10: credentials in the HF base URL never reach logs or errors -----------------------------------------


async def test_hf_base_url_credentials_are_never_logged(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    server.route("/api/daily_papers", Reply(500, b"down"))
    base = f"http://mirror-user:s3cr3t-token@127.0.0.1:{server.port}"
    async with make_http_client(_settings()) as client:
        source = HFDailySource(Fetcher(client, attempts=1, host_interval=0, allow_private=True), base_url=base)
        with caplog.at_level(logging.DEBUG):
            report = await collect(InMemoryRepository(), [source], day=date(2025, 8, 22), now=NOW)
    error = report.sources[0].error or ""
    assert "HTTP 500 from http://127.0.0.1" in error
    assert "s3cr3t" not in error and "mirror-user" not in error
    assert "s3cr3t" not in caplog.text
    assert server.requests[0].headers["authorization"].startswith("Basic ")  # the credentials are still used


# --- findings 5 and 6: one bad string or byte costs at most its entry, never the day or the feed's charset -----


async def test_one_invalid_utf8_byte_keeps_korean_titles_intact(server: LocalServer, http: httpx.AsyncClient) -> None:
    """feedparser decoded a whole UTF-8 feed with one bad byte as windows-1252: 한글 became í•œê¸€."""
    body = (
        (FEEDS / "kakao_tech_rss.xml")
        .read_bytes()
        .replace("형태소 분석".encode(), "형태소 ".encode() + b"\xff" + "분석".encode())
    )
    server.route("/feed.xml", Reply(body=body, headers={"Content-Type": "application/rss+xml"}))
    source = FeedSource(
        Fetcher(http, attempts=1, host_interval=0, allow_private=True), name="kakao", url=f"{server.base}/feed.xml"
    )
    result = await source.fetch(date(2025, 8, 22))
    titles = [item.title for item in result.items]
    assert titles == [
        "Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델",
        "추천 시스템의 실시간 피처 스토어",
        "카카오톡 메시지 검색 개선기",
    ]
    assert result.items[2].abstract == "형태소 \ufffd분석과 임베딩 검색을 함께 쓰는 이유."


@pytest.mark.parametrize("where", ["http", "xml"])
async def test_a_declared_legacy_charset_is_honoured(server: LocalServer, http: httpx.AsyncClient, where: str) -> None:
    text = (FEEDS / "kakao_tech_rss.xml").read_text(encoding="utf-8")
    if where == "xml":
        text = text.replace('encoding="UTF-8"', 'encoding="EUC-KR"', 1)
        headers = {"Content-Type": "application/rss+xml"}
    else:
        text = text.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?>', 1)
        headers = {"Content-Type": "application/rss+xml; charset=euc-kr"}
    server.route("/feed.xml", Reply(body=text.encode("euc-kr"), headers=headers))
    source = FeedSource(
        Fetcher(http, attempts=1, host_interval=0, allow_private=True), name="kakao", url=f"{server.base}/feed.xml"
    )
    result = await source.fetch(date(2025, 8, 22))
    assert result.items[0].title == "Kanana-2 개발기: 더 작고 더 똑똑한 언어 모델"


async def test_an_invalid_utf8_byte_in_the_hf_api_costs_no_paper(server: LocalServer, http: httpx.AsyncClient) -> None:
    from tests.sources.helpers import HF

    body = (HF / "2025-10-03.json").read_bytes()
    position = body.index(b'"title":"') + len(b'"title":"')
    server.route("/api/daily_papers", Reply(body=body[:position] + b"\xc3(" + body[position:]))
    source = HFDailySource(Fetcher(http, attempts=1, host_interval=0, allow_private=True), base_url=server.base)
    result = await source.fetch(date(2025, 10, 3))
    assert len(result.items) == 8 and result.skipped == 0
    assert result.items[0].title.startswith("\ufffd(")
