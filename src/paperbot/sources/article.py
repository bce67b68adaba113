"""A blog post's own page: fetched once with the polite client, its main text extracted by trafilatura.

trafilatura's XML output keeps the structure the nested highlights are built from: headings (``<head rend="h2">``),
paragraphs, lists (``<list>``/``<item>``, nested), tables (``<row>``/``<cell>``), quotations and code. On the real
pages in ``tests/data/articles`` it kept every heading and list item readability-lxml kept, and the table cells
readability dropped (SOURCES.md there has the comparison). ``favor_recall``: with its default precision trafilatura
dropped the two-item list of a Lil'Log post.

Extraction is CPU work on untrusted markup: it runs on a parse thread (:mod:`paperbot.sources.worker`) over markup
cut to :data:`MAX_PAGE_CHARS` and :data:`MAX_PAGE_TAGS`, under the fetch's deadline; the blocks kept are bounded
too. A page that fails, is paywalled or too short gives an :class:`~paperbot.domain.Article` with status FALLBACK
and the reason: the excerpt stands in and the post is never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from importlib.metadata import version

from lxml import etree

from paperbot.domain import Article, ArticleBlock, ArticleStatus, BlockKind, Item, utcnow
from paperbot.errors import ParseError, SourceError
from paperbot.sources import markup
from paperbot.sources.fetch import Fetcher, HttpStatusError
from paperbot.sources.text import safe_http_url
from paperbot.sources.worker import checkpoint, in_worker
from paperbot.untrusted import clean_untrusted

log = logging.getLogger(__name__)

#: Largest page markup handed to the extractor, and most tags: real blog pages are 50-400 KB.
MAX_PAGE_CHARS = 3_000_000
MAX_PAGE_TAGS = 60_000
#: Below this much main text the page is a teaser, a consent wall or a paywall: the excerpt stands in. So is a page
#: that says little more than the feed's excerpt already did (:data:`MIN_GAIN_CHARS` more at least).
MIN_ARTICLE_CHARS = 400
MIN_GAIN_CHARS = 200
#: Bounds on what is kept of one article (a model sees at most a few thousand characters of it anyway).
MAX_BLOCKS = 400
MAX_BLOCK_CHARS = 2_000
MAX_ARTICLE_CHARS = 60_000
#: The whole fetch and extraction of one page.
DEFAULT_DEADLINE = 20.0
EXTRACTOR = f"trafilatura {version('trafilatura')}"

#: schema.org's own paywall mark (Google's "subscription and paywalled content" markup).
_PAYWALL_RE = re.compile(r"[\"']isAccessibleForFree[\"']\s*:\s*[\"']?(?:false|False|FALSE)\b")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
_HEADING_RE = re.compile(r"^h([1-6])$")
#: trafilatura's XML is ours to parse (it generated it), but it carries the page's text: no entities, no network.
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


@dataclass(frozen=True, slots=True)
class Extracted:
    """What extraction of one page gave: blocks, or the reason there are none worth using."""

    blocks: tuple[ArticleBlock, ...]
    reason: str | None = None

    @property
    def chars(self) -> int:
        return sum(len(block.text) for block in self.blocks)


def _text_of(element: etree._Element, *, skip: tuple[str, ...] = ()) -> str:
    """The element's text with its descendants', leaving out nested ``skip`` elements (a list inside an item)."""
    parts: list[str] = [element.text or ""]
    for child in element:
        if child.tag not in skip:
            parts.append(_text_of(child, skip=skip))
        parts.append(child.tail or "")
    return "".join(parts)


def _clean(text: str) -> str:
    return clean_untrusted(text, limit=MAX_BLOCK_CHARS)


def _list_blocks(element: etree._Element, depth: int) -> Iterator[ArticleBlock]:
    for item in element.iterchildren("item"):
        text = _clean(_text_of(item, skip=("list",)))
        if text:
            yield ArticleBlock(BlockKind.ITEM, text, depth)
        for nested in item.iterchildren("list"):
            yield from _list_blocks(nested, depth + 1)


def _blocks(main: etree._Element) -> Iterator[ArticleBlock]:
    for element in main:
        checkpoint()
        tag = element.tag
        if not isinstance(tag, str):
            continue
        if tag == "head":
            found = _HEADING_RE.match(element.get("rend", ""))
            text = _clean(_text_of(element))
            if text:
                yield ArticleBlock(BlockKind.HEADING, text, int(found.group(1)) if found else 2)
        elif tag == "list":
            yield from _list_blocks(element, 0)
        elif tag == "table":
            for row in element.iter("row"):
                cells = [_clean(_text_of(cell)) for cell in row.iterchildren("cell")]
                if any(cells):
                    yield ArticleBlock(BlockKind.ROW, _clean(" | ".join(cells)))
        elif tag in ("quote", "code"):
            text = _clean(_text_of(element))
            if text:
                yield ArticleBlock(BlockKind.QUOTE if tag == "quote" else BlockKind.CODE, text)
        else:  # p, and anything else trafilatura may emit (lb, hi, graphic captions): its text
            text = _clean(_text_of(element))
            if text:
                yield ArticleBlock(BlockKind.PARAGRAPH, text)


def blocks_from_xml(xml: str) -> tuple[ArticleBlock, ...]:
    """The blocks of trafilatura's XML output, in order, bounded by :data:`MAX_BLOCKS` and
    :data:`MAX_ARTICLE_CHARS`."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"extractor output is not XML ({exc})") from None
    main = root.find("main")
    if main is None:
        return ()
    kept: list[ArticleBlock] = []
    total = 0
    for block in _blocks(main):
        if len(kept) >= MAX_BLOCKS or total + len(block.text) > MAX_ARTICLE_CHARS:
            break
        kept.append(block)
        total += len(block.text)
    return tuple(kept)


#: A whole document has ``<html>``, ``<body>`` or ``<head>`` near its start (after a doctype, comments, a BOM).
_DOCUMENT_RE = re.compile(r"(?i)<(?:html|body|head)[\s>]")
_DOCUMENT_PROBE = 20_000


def extract_article(content: bytes, *, url: str | None = None, content_type: str | None = None) -> Extracted:
    """The main text of an HTML page as blocks (CPU-bound: call it through :func:`in_worker`)."""
    import trafilatura  # a second of imports (courlan, htmldate, justext): only where a page is extracted

    page = markup.cap(
        markup.decode(content, content_type, html=True),
        max_chars=MAX_PAGE_CHARS,
        max_tags=MAX_PAGE_TAGS,
        what="article",
    )
    if _PAYWALL_RE.search(page):
        return Extracted((), "paywalled")
    if not _DOCUMENT_RE.search(page[:_DOCUMENT_PROBE]):
        # A bare fragment (a feed's content:encoded, a CMS that serves the post body alone): trafilatura drops
        # every heading of a fragment (seen on the Microsoft AI blog's posts: 0 of 7 h2 kept, 8 once wrapped).
        page = f"<html><body><article>{page}</article></body></html>"
    checkpoint()
    try:
        xml = trafilatura.extract(
            page,
            url=url,
            output_format="xml",
            include_tables=True,
            include_comments=False,
            include_images=False,
            include_links=False,
            include_formatting=False,
            favor_recall=True,
            # Off: trafilatura's deduplication remembers text across calls in a process-wide cache, so the same
            # page extracted a second time lost its headings and paragraphs (seen in this suite's own runs).
            deduplicate=False,
        )
    except Exception as exc:  # an extractor on hostile input may raise nearly anything: wrap at the adapter
        raise ParseError(f"extractor failed: {type(exc).__name__}") from None
    checkpoint()
    if not xml:
        return Extracted((), "no_main_text")
    blocks = blocks_from_xml(xml)
    extracted = Extracted(blocks)
    if extracted.chars < MIN_ARTICLE_CHARS:
        return Extracted(blocks, f"too_short({extracted.chars} chars)")
    return extracted


def _reason(exc: Exception) -> str:
    if isinstance(exc, HttpStatusError):
        # 401/402/403: a login or paywall more often than not; either way the excerpt stands in.
        return f"paywalled_or_forbidden(HTTP {exc.status})" if exc.status in (401, 402, 403) else f"http({exc.status})"
    return f"fetch_failed({str(exc)[:200]})"


class ArticleFetcher:
    """The ``ArticleSource`` port: one GET of a post's page (conditional when it was fetched before), extracted."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        deadline: float = DEFAULT_DEADLINE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.fetcher = fetcher
        self.deadline = deadline
        self.clock = clock

    def _fallback(
        self, item: Item, reason: str, previous: Article | None = None, validators: Mapping[str, str] | None = None
    ) -> Article:
        """The excerpt stands in, for ``reason``. The page's validators are kept (from this response, else from the
        previous fetch), so tomorrow's try of a teaser page costs a 304, not the page."""
        return Article(
            item_id=item.id or 0,
            url=item.url,
            status=ArticleStatus.FALLBACK,
            reason=reason[:500],
            extractor=EXTRACTOR,
            etag=(validators or {}).get("etag") or (previous.etag if previous else None),
            last_modified=(validators or {}).get("last-modified") or (previous.last_modified if previous else None),
            fetched_at=self.clock(),
        )

    async def fetch_article(self, item: Item, previous: Article | None = None) -> Article:
        """The article of ``item`` (never raises a source error: a failure is a FALLBACK article with the reason)."""
        url = safe_http_url(item.url)
        if url is None:
            return self._fallback(item, "no_http_url")
        headers: dict[str, str] = {}
        if previous is not None:
            if previous.etag:
                headers["If-None-Match"] = previous.etag
            if previous.last_modified:
                headers["If-Modified-Since"] = previous.last_modified
        try:
            async with asyncio.timeout(self.deadline):
                # One request per page and day, retries included: a failing page waits for tomorrow's collect.
                response = await self.fetcher.get(url, headers=headers, attempts=1)
                if response.not_modified and previous is not None:
                    # Unchanged since the last fetch: the stored text (or the stored reason) still holds.
                    return replace(previous, fetched_at=self.clock())
                if response.not_modified:
                    return self._fallback(item, "not_modified_without_copy")
                if response.content_type not in _HTML_TYPES:
                    return self._fallback(item, f"not_html({response.content_type[:50]})")
                extracted = await in_worker(
                    extract_article,
                    response.content,
                    url=response.url,
                    content_type=response.headers.get("content-type"),
                )
        except TimeoutError:
            return self._fallback(item, "deadline", previous)
        except (SourceError, ParseError) as exc:
            return self._fallback(item, _reason(exc), previous)
        if extracted.reason is None and extracted.chars < len(item.abstract) + MIN_GAIN_CHARS:
            extracted = Extracted(extracted.blocks, f"no_more_than_excerpt({extracted.chars} chars)")
        if extracted.reason is not None:
            log.info("article not usable", extra={"item_id": item.id, "reason": extracted.reason})
            return self._fallback(item, extracted.reason, validators=response.headers)
        return Article(
            item_id=item.id or 0,
            url=response.url,
            status=ArticleStatus.OK,
            blocks=extracted.blocks,
            extractor=EXTRACTOR,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            fetched_at=self.clock(),
        )
