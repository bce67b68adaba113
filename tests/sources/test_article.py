"""Article extraction (issue 17) on real pages, and the article fetcher against a local server."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from paperbot.config import Settings
from paperbot.domain import Article, ArticleStatus, BlockKind, Item, ItemKind
from paperbot.httpclient import make_http_client
from paperbot.sources import article as article_module
from paperbot.sources.article import MAX_BLOCKS, ArticleFetcher, extract_article
from paperbot.sources.fetch import Fetcher
from tests.sources.localserver import LocalServer, Reply, local_server

PAGES = Path(__file__).resolve().parent.parent / "data" / "articles"
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


# (file, least main-text characters, first heading (None: the page has none), a sentence the text must hold)
REAL_PAGES = [
    ("blog.python.org.html", 800, None, "Python 3.6.0 is the newest major release of the Python language"),
    (
        "github.blog.spiceland.html",
        4_000,
        "How would you summarize your career (so far) in a single sentence?",
        "Erin Spiceland is a Software Engineer for SpaceX.",
    ),
    ("lemire.me.json.html", 1_200, None, "JSON is the ubiquitous data format on the Internet."),
    (
        "en.wikipedia.org.tsne.html",
        6_500,
        "t-distributed stochastic neighbor embedding",
        "t-SNE has been used for visualization in a wide range of applications",
    ),
    ("lilianweng_hallucination.html", 1_100, None, "There are two types of hallucination:"),
    # Bare post bodies (a feed's content:encoded): their headings survive only because the fragment is wrapped.
    (
        "microsoft_ai_phi4_mini_flash.html",
        5_500,
        "State of the art architecture redefines speed for reasoning models",
        "Phi-4-mini-flash-reasoning is a 3.8 billion parameter open model",
    ),
    (
        "microsoft_ai_deep_research.html",
        6_000,
        "Unlock enterprise-scale web research automation",
        "Input: $10.00 per 1M tokens.",
    ),
]


@pytest.mark.parametrize(("name", "least", "heading", "sentence"), REAL_PAGES)
def test_real_pages_give_their_main_text(name: str, least: int, heading: str | None, sentence: str) -> None:
    extracted = extract_article(page(name), content_type="text/html; charset=utf-8")
    assert extracted.reason is None
    assert least <= extracted.chars <= least * 2
    headings = [block for block in extracted.blocks if block.kind is BlockKind.HEADING]
    assert (headings[0].text if headings else None) == heading
    assert sentence in "\n".join(block.text for block in extracted.blocks)
    navigation = ("Skip to content", "Sign in", "Subscribe to our newsletter", "Jump to navigation")
    assert not any(word in block.text for block in extracted.blocks for word in navigation)


def test_structure_is_kept_lists_nested_and_table_rows() -> None:
    lists = extract_article(page("lilianweng_hallucination.html"))
    items = [block.text for block in lists.blocks if block.kind is BlockKind.ITEM]
    assert items[0].startswith("In-context hallucination: The model output should be consistent")
    assert items[1].startswith("Extrinsic hallucination:")
    table = extract_article(page("lemire.me.json.html"))
    rows = [block.text for block in table.blocks if block.kind is BlockKind.ROW]
    assert rows[0] == "file | simdjson | JSON for Modern C++"
    assert "apache_builds | 2.3 GB/s | 0.098 GB/s" in rows
    wiki = extract_article(page("en.wikipedia.org.tsne.html"))
    assert {block.level for block in wiki.blocks if block.kind is BlockKind.HEADING} >= {1, 2}
    assert any(block.kind is BlockKind.ITEM for block in wiki.blocks)


def test_a_page_of_a_few_words_is_too_short_and_a_paywall_is_named() -> None:
    short = extract_article(b"<html><body><article><p>Read the rest in our app.</p></article></body></html>")
    assert short.reason is not None and short.reason.startswith(("too_short", "no_main_text"))
    paywalled = page("github.blog.spiceland.html").replace(
        b"</head>", b'<script type="application/ld+json">{"isAccessibleForFree": "False"}</script></head>', 1
    )
    assert extract_article(paywalled).reason == "paywalled"


def test_what_is_kept_of_a_huge_page_is_bounded() -> None:
    body = "".join(f"<p>Paragraph {i} says something long enough to be kept by the extractor.</p>" for i in range(3000))
    extracted = extract_article(f"<html><body><article>{body}</article></body></html>".encode())
    assert 0 < len(extracted.blocks) <= MAX_BLOCKS


def post(url: str, *, abstract: str = "A short teaser.") -> Item:
    return Item(
        source="lilianweng",
        external_id=url,
        kind=ItemKind.POST,
        title="Extrinsic Hallucinations in LLMs",
        url=url,
        day=date(2024, 7, 7),
        abstract=abstract,
        id=7,
    )


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with make_http_client(Settings(http_timeout=2.0, http_host_interval=0.0)) as client:
        yield client


def fetcher(http: httpx.AsyncClient, **kwargs: float) -> ArticleFetcher:
    polite = Fetcher(http, attempts=3, host_interval=0.0, allow_private=True)
    return ArticleFetcher(polite, clock=lambda: NOW, **kwargs)


HTML = {"Content-Type": "text/html; charset=utf-8"}


async def test_an_article_is_fetched_extracted_off_the_loop_and_keeps_its_validators(
    server: LocalServer, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/p", Reply(200, page("github.blog.spiceland.html"), {**HTML, "ETag": '"v1"'}))
    threads: list[str] = []
    real = article_module.extract_article

    def spy(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(article_module, "extract_article", spy)
    got = await fetcher(http).fetch_article(post(f"{server.base}/p"))
    assert got.status is ArticleStatus.OK and got.usable and got.reason is None
    assert got.etag == '"v1"' and got.fetched_at == NOW and got.item_id == 7
    assert "Erin Spiceland is a Software Engineer for SpaceX." in got.text
    assert threads and threads[0] != threading.current_thread().name and threads[0].startswith("paperbot-parse")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(403, b"Forbidden", HTML), "paywalled_or_forbidden(HTTP 403)"),
        (Reply(404, b"Gone", HTML), "http(404)"),
        (Reply(500, b"oops", HTML), "http(500)"),
        (Reply(200, b"%PDF-1.7", {"Content-Type": "application/pdf"}), "not_html(application/pdf)"),
        (Reply(200, page("lilianweng_reward_hacking.html"), HTML), "no_more_than_excerpt"),
    ],
)
async def test_a_failing_page_falls_back_with_its_reason_after_one_request(
    server: LocalServer, http: httpx.AsyncClient, reply: Reply, reason: str
) -> None:
    server.route("/p", reply)
    teaser = "Reward hacking occurs when a reinforcement learning (RL) agent exploits flaws. " * 10
    got = await fetcher(http).fetch_article(post(f"{server.base}/p", abstract=teaser))
    assert got.status is ArticleStatus.FALLBACK and not got.usable
    assert got.reason is not None and got.reason.startswith(reason)
    assert server.paths() == ["/p"]  # one request, retries included: a 500 waits for tomorrow


async def test_a_hanging_page_hits_the_deadline(server: LocalServer, http: httpx.AsyncClient) -> None:
    server.route("/p", Reply(hang=True))
    got = await fetcher(http, deadline=0.3).fetch_article(post(f"{server.base}/p"))
    assert got.status is ArticleStatus.FALLBACK and got.reason == "deadline"


async def test_a_retry_is_conditional_and_a_304_keeps_what_was_stored(
    server: LocalServer, http: httpx.AsyncClient
) -> None:
    seen: list[str | None] = []

    def conditional(request: object) -> Reply:
        seen.append(getattr(request, "headers", {}).get("if-none-match"))
        return Reply(304, b"", {"ETag": '"t1"'})

    server.route("/p", conditional)
    previous = Article(7, f"{server.base}/p", ArticleStatus.FALLBACK, reason="too_short(300 chars)", etag='"t1"')
    got = await fetcher(http).fetch_article(post(f"{server.base}/p"), previous)
    assert seen == ['"t1"']
    assert got.reason == "too_short(300 chars)" and got.fetched_at == NOW


async def test_a_private_address_is_refused_without_allow_private(http: httpx.AsyncClient) -> None:
    strict = ArticleFetcher(Fetcher(http, attempts=1, host_interval=0.0), clock=lambda: NOW)
    got = await strict.fetch_article(post("http://127.0.0.1:9/secret"))
    assert got.status is ArticleStatus.FALLBACK and got.reason is not None and "fetch_failed" in got.reason


def test_extracting_the_same_page_again_gives_the_same_text() -> None:
    """trafilatura's ``deduplicate`` keeps a process-wide cache of text seen: with it on, a page extracted a fourth
    time came back without its headings. Extraction must not depend on what was extracted before."""
    first = extract_article(page("github.blog.spiceland.html"))
    for _ in range(4):
        assert extract_article(page("github.blog.spiceland.html")) == first
