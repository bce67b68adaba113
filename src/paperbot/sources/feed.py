"""RSS/Atom blog feeds: httpx fetches the bytes (conditional GET), feedparser only parses them.

Posts dedup on the entry's guid/id, else on the canonical link. On a feed's first successful fetch every entry
is recorded, but all except the newest ``first_fetch_limit`` carry ``extra["backlog"] = True`` so adding a blog
never floods a channel.

The bytes are decoded here, in the charset the feed declares (BOM, HTTP charset, XML declaration, else UTF-8),
with one U+FFFD per undecodable byte: feedparser, given bytes with one invalid UTF-8 byte, silently decodes the
whole feed as windows-1252 (한글 → í•œê¸€). feedparser's HTML sanitizer is off: it is quadratic on ``<!--``
(240 KB took 10 s) and nothing renders entry HTML; :func:`paperbot.sources.text.html_to_text` keeps only text.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import feedparser

from paperbot.domain import Item, ItemKind, SourceState, utcnow
from paperbot.errors import ParseError
from paperbot.ports import FetchResult
from paperbot.sources import markup
from paperbot.sources.fetch import Fetcher, Response
from paperbot.sources.text import canonical_url, html_to_text, plausible_datetime, safe_http_url, utc_day
from paperbot.sources.worker import checkpoint, in_worker
from paperbot.untrusted import clean_untrusted

log = logging.getLogger(__name__)

EXCERPT_LIMIT = 2000
_MAX_ID = 500


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    items: list[Item]
    entries: int
    skipped: int
    title: str = ""


def _struct_to_datetime(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC) if value else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _plain(entry: Mapping[str, Any], key: str) -> Any:
    """``entry[key]`` without FeedParserDict's fallbacks: ``updated_parsed`` falls back to ``published_parsed`` with
    a DeprecationWarning, and warnings are process-wide state that a parse thread must not touch."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def post_key(guid: str | None, link: str | None) -> str | None:
    """The dedup key: the guid, else the canonical link; hashed when longer than the database's 500 characters."""
    key = guid or (canonical_url(link) if link else None)
    if key is None:
        return None
    return key if len(key) <= _MAX_ID else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _thumbnail(entry: Mapping[str, Any], base: str | None) -> str | None:
    for key in ("media_thumbnail", "media_content"):
        media = entry.get(key)
        if isinstance(media, list):
            for candidate in media:
                if isinstance(candidate, Mapping):
                    medium = str(candidate.get("medium") or candidate.get("type") or "image")
                    if "image" in medium and (url := safe_http_url(candidate.get("url"), base=base)):
                        return url
    for enclosure in entry.get("enclosures") or []:
        is_image = isinstance(enclosure, Mapping) and str(enclosure.get("type", "")).startswith("image/")
        if is_image and (url := safe_http_url(enclosure.get("href"), base=base)):
            return url
    return None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors") or []:
        if isinstance(author, Mapping) and (name := clean_untrusted(author.get("name"), limit=200)):
            names.append(name)
    if not names and (single := clean_untrusted(entry.get("author"), limit=200)):
        names.append(single)
    return tuple(dict.fromkeys(names))


def parse_entry(entry: Mapping[str, Any], *, source: str, fetched_at: datetime, base: str | None) -> Item:
    """One feedparser entry to an Item; ParseError when it has no usable link or title."""
    link = safe_http_url(entry.get("link"), base=base)
    if link is None:
        for alternate in entry.get("links") or []:
            if isinstance(alternate, Mapping) and alternate.get("rel", "alternate") == "alternate":
                link = safe_http_url(alternate.get("href"), base=base)
                if link:
                    break
    guid = clean_untrusted(entry.get("id")) or None
    external_id = post_key(guid, link)
    if link is None:
        link = safe_http_url(guid)  # many feeds use the permalink as guid
    if link is None or external_id is None:
        raise ParseError("feed entry without a usable link")
    title = html_to_text(entry.get("title"), limit=500)
    if not title:
        raise ParseError(f"feed entry {link} has no title")
    summary = entry.get("summary")
    if not summary and isinstance(entry.get("content"), list) and entry["content"]:
        first = entry["content"][0]
        summary = first.get("value") if isinstance(first, Mapping) else None
    published = plausible_datetime(
        _struct_to_datetime(_plain(entry, "published_parsed")) or _struct_to_datetime(_plain(entry, "updated_parsed")),
        fetched_at,
    )
    tags = [clean_untrusted(tag.get("term"), limit=60) for tag in entry.get("tags") or [] if isinstance(tag, Mapping)]
    extra: dict[str, Any] = {}
    if tags := [tag for tag in tags if tag][:20]:
        extra["categories"] = tags
    if guid:
        extra["guid"] = guid[:_MAX_ID]
    return Item(
        source=source,
        external_id=external_id,
        kind=ItemKind.POST,
        title=title,
        url=link,
        day=utc_day(published, fetched_at.date()),
        authors=_authors(entry),
        abstract=html_to_text(summary, limit=EXCERPT_LIMIT),
        thumbnail_url=_thumbnail(entry, base),
        published_at=published,
        extra=extra,
    )


#: Characters XML 1.0 forbids (§2.2), raw or as a character reference: feedparser's loose parser raised on
#: ``&#99999999;`` (chr) and ``&#xD800;`` (encoding), losing the whole feed for one reference.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CHAR_REFERENCE = re.compile(r"&#(?:[xX]([0-9A-Fa-f]{1,10})|([0-9]{1,12}));")


def _is_xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _checked_reference(match: re.Match[str]) -> str:
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    return match.group(0) if _is_xml_char(code) else "&#xFFFD;"


def as_utf8(content: bytes, content_type: str | None = None) -> bytes:
    """The feed re-encoded as UTF-8 from its declared charset; undecodable bytes, characters XML forbids and
    references to them become U+FFFD, one each (so one bad character costs one character, not the feed)."""
    text = markup.decode(content, content_type)
    if "&#" in text:
        text = _CHAR_REFERENCE.sub(_checked_reference, text)
    text = _NOT_XML_CHAR.sub("\ufffd", text)
    return text.encode("utf-8", errors="replace")


#: What feedparser is told the re-encoded bytes are (an application/xml charset outranks the XML declaration).
_UTF8_XML = {"content-type": "application/xml; charset=utf-8"}


def parse_feed(
    content: bytes,
    *,
    source: str,
    fetched_at: datetime,
    base: str | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse RSS/Atom bytes. Zero entries from a non-empty body is a ParseError (layout drift, an HTML page…)."""
    if not isinstance(content, bytes):
        raise ParseError("feed content must be bytes")
    if not content.strip():
        raise ParseError("empty feed body")
    try:
        parsed = feedparser.parse(
            as_utf8(content, content_type),
            response_headers=_UTF8_XML,
            resolve_relative_uris=False,
            sanitize_html=False,
        )
    except Exception as exc:  # feedparser can raise nearly anything on hostile input; wrap at the adapter
        raise ParseError(f"feed parser failed: {type(exc).__name__}") from None
    entries: Sequence[Any] = parsed.get("entries") or []
    if not entries:
        reason = parsed.get("bozo_exception")
        raise ParseError(f"no entries in the feed{f' ({type(reason).__name__})' if reason else ''}")
    feed_info = parsed.get("feed") or {}
    base = safe_http_url(feed_info.get("link")) or base
    items: list[Item] = []
    skipped = 0
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        checkpoint()
        try:
            if not isinstance(entry, Mapping):
                raise ParseError("entry is not a mapping")
            item = parse_entry(entry, source=source, fetched_at=fetched_at, base=base)
        except ParseError as exc:
            skipped += 1
            log.warning("skipped a malformed feed entry", extra={"source": source, "index": index, "error": str(exc)})
            continue
        if item.external_id not in seen:
            seen.add(item.external_id)
            items.append(item)
    if not items:
        raise ParseError(f"none of the {len(entries)} feed entries could be parsed")
    return ParsedFeed(items, len(entries), skipped, clean_untrusted(feed_info.get("title"), limit=200))


def mark_backlog(items: list[Item], state: SourceState | None, limit: int) -> list[Item]:
    """On a first fetch (no earlier success) keep the newest ``limit`` items postable; flag the rest as backlog."""
    if state is not None and state.last_success_at is not None:
        return items
    epoch = datetime.min.replace(tzinfo=UTC)
    order = sorted(range(len(items)), key=lambda i: (items[i].published_at or epoch, -i), reverse=True)
    postable = set(order[:limit])
    return [
        item if index in postable else replace(item, extra={**item.extra, "backlog": True})
        for index, item in enumerate(items)
    ]


def conditional_headers(state: SourceState | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def not_modified_result(response: Response, state: SourceState | None) -> FetchResult:
    return FetchResult(
        not_modified=True,
        etag=response.headers.get("etag") or (state.etag if state else None),
        last_modified=response.headers.get("last-modified") or (state.last_modified if state else None),
    )


class FeedSource:
    """The ``feed`` source: one RSS or Atom feed."""

    #: What it yields (``paperbot.ports.Source.kind``): the scheduler collects papers and posts on their own clocks.
    kind = ItemKind.POST

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        name: str,
        url: str,
        title: str | None = None,
        first_fetch_limit: int = 3,
        deadline: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
        company: str | None = None,
    ) -> None:
        self.name = name
        #: Stamped on every item as ``extra["company"]`` (the digest's ``Title (date, Company)``) when known.
        self.company = company
        self.url = url
        self.title = title or name
        self.fetcher = fetcher
        self.first_fetch_limit = first_fetch_limit
        self.deadline = deadline
        self.clock = clock

    async def fetch(self, day: date, *, state: SourceState | None = None) -> FetchResult:
        response = await self.fetcher.get(self.url, headers=conditional_headers(state))
        if response.not_modified:
            return not_modified_result(response, state)
        parsed = await in_worker(
            parse_feed,
            response.content,
            source=self.name,
            fetched_at=self.clock(),
            base=response.url,
            content_type=response.headers.get("content-type"),
        )
        items = [
            replace(item, extra={**item.extra, "feed_title": self.title, **self._company}) for item in parsed.items
        ]
        return FetchResult(
            items=mark_backlog(items, state, self.first_fetch_limit),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            skipped=parsed.skipped,
        )

    @property
    def _company(self) -> dict[str, str]:
        return {"company": self.company} if self.company is not None else {}

    async def fetch_one(self, external_id: str) -> Item | None:
        return None
