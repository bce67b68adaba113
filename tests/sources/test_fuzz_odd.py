"""Property suite (issue 14): the HF, feed and scrape parsers fed the odd values that broke collection.

Nothing escapes but ParseError (here: nothing at all, since every page holds a good entry), every good entry comes
out intact, and every item that comes out holds only values a database stores (no NUL, no lone surrogate, counts in
range, safe URLs). Examples are few per run (CI loads a derandomised profile, see tests/conftest.py).
"""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperbot.domain import Item
from paperbot.sources.feed import parse_feed
from paperbot.sources.hf import MAX_COUNT, parse_daily_papers, parse_listing_page
from paperbot.sources.scrape import parse_listing
from paperbot.sources.text import safe_http_url
from tests.sources.helpers import listing_page
from tests.sources.odd import ODD_STRINGS, hf_page, odd_text

CAPTURED = datetime(2025, 10, 4, 0, 5, tzinfo=UTC)
_ODD = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _clean(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


def assert_storable(item: Item) -> None:
    for text in (item.source, item.external_id, item.title, item.url, item.abstract, *item.authors):
        assert _clean(text), (item.external_id, text)
    assert item.title and len(item.external_id) <= 500
    assert safe_http_url(item.url) == item.url
    assert item.thumbnail_url is None or safe_http_url(item.thumbnail_url) == item.thumbnail_url
    assert 0 <= item.upvotes <= MAX_COUNT
    assert item.published_at is None or item.published_at.year >= 2000
    assert _clean(json.dumps(item.extra, ensure_ascii=False, allow_nan=False))


@_ODD
@given(hf_page())
def test_hf_pages_with_odd_values_keep_every_good_paper(page: tuple[list[Any], list[str]]) -> None:
    entries, good = page
    # As HF serialises: ASCII JSON, so a lone surrogate arrives as the escape \ud800 (and NaN as a bare token).
    body = json.dumps(entries, ensure_ascii=True, allow_nan=True).encode()
    parsed = parse_daily_papers(body, day=date(2025, 10, 3), captured_at=CAPTURED)
    assert parsed.entries == len(entries) == len(parsed.items) + parsed.skipped
    ids = [item.external_id for item in parsed.items]
    assert [i for i in ids if i in good] == good
    for item in parsed.items:
        assert_storable(item)


@_ODD
@given(hf_page(), st.sampled_from(["double", "single"]))
def test_the_hf_listing_page_with_odd_values_keeps_every_good_paper(
    page: tuple[list[Any], list[str]], quoting: str
) -> None:
    entries, good = page
    raw = listing_page(json.loads(json.dumps(entries, allow_nan=True)), quoting=quoting)
    parsed = parse_listing_page(raw.encode("utf-8", "surrogatepass"), day=date(2025, 10, 3), captured_at=CAPTURED)
    assert [item.external_id for item in parsed.items if item.external_id in good] == good
    for item in parsed.items:
        assert_storable(item)


#: Character-level breakage that makes a feed ill-formed XML (feedparser then parses it loosely) without
#: swallowing the elements after it. An unclosed comment or CDATA section legitimately hides what follows.
RAW_XML = ["&#0;", "&#xD800;", "&#99999999;", "&", "& nbsp;", "\x00", "\x0b", "\x1b", "]]>"]


def _xml_value(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(RAW_XML)) + draw(st.sampled_from(["", "x", "한글"]))
    return html.escape(draw(odd_text), quote=False)


@st.composite
def feed_document(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """(RSS bytes, good link → title) with good items among hostile ones."""
    good: dict[str, str] = {}
    items = []
    for n, is_good in enumerate([*draw(st.lists(st.booleans(), min_size=1, max_size=7)), True]):
        if is_good:
            link = f"https://blog.example.com/good-{n}"
            good[link] = f"좋은 글 {n}: 언어 모델"
            items.append(
                f"<item><title>{good[link]}</title><link>{link}</link><guid>{link}</guid>"
                "<pubDate>Thu, 02 Oct 2025 10:00:00 +0000</pubDate><description>&lt;p&gt;요약&lt;/p&gt;</description></item>"
            )
        else:
            fields = {name: _xml_value(draw) for name in ("title", "link", "guid", "pubDate", "description", "author")}
            items.append("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</item>")
    text = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>블로그</title>'
        f"<link>https://blog.example.com/</link>{''.join(items)}</channel></rss>"
    )
    body = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):  # one invalid UTF-8 byte inside a hostile item
        position = body.find(b"<item><title>", body.find(b"</item>"))
        body = body if position < 0 else body[:position] + b"\xff" + body[position:]
    return body, good


@_ODD
@given(feed_document())
def test_feeds_with_odd_values_keep_every_good_post(document: tuple[bytes, dict[str, str]]) -> None:
    body, good = document
    parsed = parse_feed(body, source="blog", fetched_at=CAPTURED, content_type="application/rss+xml")
    found = {item.url: item.title for item in parsed.items}
    assert {link: found.get(link) for link in good} == good
    for item in parsed.items:
        assert_storable(item)


#: Broken markup that may end a page (it could swallow what follows it: comments, attributes, raw text elements).
RAW_HTML_TAIL = [
    "<!--",
    "<!-",
    "<a<a<a" * 20,
    "<a href='",
    '<a href="',
    "</",
    "<script>",
    "<style>",
    "&#0;",
    "\x00",
    "<",
]


@st.composite
def listing_document(draw: st.DrawFn) -> tuple[bytes, set[str]]:
    good: set[str] = set()
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><main>"]
    for n, is_good in enumerate([*draw(st.lists(st.booleans(), min_size=1, max_size=7)), True]):
        if is_good:
            good.add(f"좋은 글 {n}")
            parts.append(f'<a href="/news/good-{n}"><h3>좋은 글 {n}</h3><time datetime="2025-10-02">Oct 2</time></a>')
        else:
            href, text = (html.escape(draw(odd_text)) for _ in range(2))
            parts.append(draw(st.sampled_from([f'<a href="/news/{href}">{text}</a>', f'<a href="{href}">{text}</a>',
                                               f"<p title='{href}'>{text}</p>", text])))  # fmt: skip
    parts.append(draw(st.sampled_from(["", *RAW_HTML_TAIL])))
    return "".join(parts).encode("utf-8", "surrogatepass"), good


@_ODD
@given(listing_document())
def test_listing_pages_with_odd_values_keep_every_good_post(document: tuple[bytes, set[str]]) -> None:
    body, good = document
    items = parse_listing(
        body, source="news", page_url="https://www.example.com/news", link_pattern=r"^/news/", fetched_at=CAPTURED
    )
    assert good <= {item.title for item in items}
    for item in items:
        assert_storable(item)


def test_every_odd_string_is_exercised() -> None:
    """The named odd values are all drawn from (a guard against editing the list into uselessness)."""
    assert {"\x00", "\ud800", "²", "9" * 5000, "&#0;", "&lt;a" * 40} <= set(ODD_STRINGS)
