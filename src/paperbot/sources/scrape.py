"""Page scrapers for blogs without a feed (Anthropic news and engineering, Meta AI).

A listing page is a set of links to posts. We collect every ``<a href>`` whose path matches the source's
``link_pattern``, take the title from a heading inside the link (else its longest text node, so card texts such as
"Aug 18, 2026ScienceTitle" do not end up glued into the title), and the date from a ``<time datetime>`` or a
date-looking text node. Pages carry no ETag worth trusting, so conditional GET is still tried but optional.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from paperbot.domain import Item, ItemKind, SourceState, utcnow
from paperbot.errors import ParseError
from paperbot.ports import FetchResult
from paperbot.sources.feed import conditional_headers, mark_backlog, not_modified_result
from paperbot.sources.fetch import Fetcher
from paperbot.sources.text import canonical_url, clean_text, parse_iso_datetime, safe_http_url

log = logging.getLogger(__name__)

_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_DATE_TEXT = re.compile(
    r"\b(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})\b"
    r"|\b(?P<iso>\d{4}-\d{2}-\d{2})\b",
    re.IGNORECASE,
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_MAX_LINKS = 500


def parse_date_text(text: str) -> datetime | None:
    """``Aug 5, 2025`` / ``August 5, 2025`` / ``2025-08-05`` anywhere in a text, as midnight UTC."""
    match = _DATE_TEXT.search(text)
    if match is None:
        return None
    try:
        if match["iso"]:
            return datetime.fromisoformat(match["iso"]).replace(tzinfo=UTC)
        return datetime(int(match["year"]), _MONTHS[match["month"][:3].lower()], int(match["day"]), tzinfo=UTC)
    except ValueError:
        return None


@dataclass(slots=True)
class _Link:
    href: str
    headings: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    image: str | None = None


class _LinkCollector(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[_Link] = []
        self._open: list[_Link] = []
        self._heading_depth = 0
        self._heading_parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "a" and values.get("href") and len(self.links) < _MAX_LINKS:
            link = _Link(href=values["href"] or "")
            self.links.append(link)
            self._open = [link]  # links do not nest; a new <a> closes the previous one
        elif tag in _HEADINGS:
            self._heading_depth += 1
            self._heading_parts = []
        elif tag == "time" and self._open and values.get("datetime"):
            self._open[-1].times.append(values["datetime"] or "")
        elif tag == "img" and self._open and self._open[-1].image is None:
            self._open[-1].image = values.get("src")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "a":
            self._open = []
        elif tag in _HEADINGS and self._heading_depth:
            self._heading_depth -= 1
            if self._open and (heading := clean_text("".join(self._heading_parts))):
                self._open[-1].headings.append(heading)
            self._heading_parts = []

    def handle_data(self, data: str) -> None:
        if self._skip_depth or not self._open:
            return
        if self._heading_depth:
            self._heading_parts.append(data)
        elif text := clean_text(data):
            self._open[-1].texts.append(text)


def _title_of(link: _Link) -> str:
    if link.headings:
        return link.headings[0]
    candidates = [text for text in link.texts if parse_date_text(text) is None or len(text) > 40]
    return max(candidates, key=len, default="")


def parse_listing(
    page: bytes | str, *, source: str, page_url: str, link_pattern: str, fetched_at: datetime
) -> list[Item]:
    """Posts linked from a listing page. Links matching the pattern without any title are ignored."""
    text = page.decode("utf-8", errors="replace") if isinstance(page, bytes) else page
    try:
        pattern = re.compile(link_pattern)
    except re.error as exc:
        raise ParseError(f"bad link_pattern {link_pattern!r}: {exc}") from None
    collector = _LinkCollector()
    try:
        collector.feed(text)
        collector.close()
    except (AssertionError, ValueError) as exc:
        raise ParseError(f"unparseable HTML: {exc}") from None
    merged: dict[str, Item] = {}
    page_host = (urlsplit(page_url).hostname or "").lower()
    for link in collector.links:
        url = safe_http_url(urljoin(page_url, link.href.strip()))
        if url is None:
            continue
        parts = urlsplit(url)
        if (parts.hostname or "").lower() != page_host or not pattern.search(parts.path):
            continue
        key = canonical_url(url)
        title = clean_text(_title_of(link), limit=500)
        published = next(filter(None, (parse_iso_datetime(t) for t in link.times)), None) or next(
            filter(None, (parse_date_text(t) for t in [*link.texts, *link.headings])), None
        )
        previous = merged.get(key)
        if previous is not None:  # the same post linked twice (image and title): fill in what is missing
            merged[key] = replace(
                previous,
                title=previous.title or title,
                published_at=previous.published_at or published,
                day=(previous.published_at or published or fetched_at).date(),
                thumbnail_url=previous.thumbnail_url or safe_http_url(link.image, base=page_url),
            )
            continue
        merged[key] = Item(
            source=source,
            external_id=key,
            kind=ItemKind.POST,
            title=title,
            url=key,
            day=(published or fetched_at).astimezone(UTC).date(),
            thumbnail_url=safe_http_url(link.image, base=page_url),
            published_at=published,
        )
    return [item for item in merged.values() if item.title]


class HtmlListSource:
    """The ``scrape`` source: links to posts on a listing page (for sites that publish no feed)."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        name: str,
        url: str,
        link_pattern: str,
        title: str | None = None,
        first_fetch_limit: int = 3,
        deadline: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.url = url
        self.link_pattern = link_pattern
        self.title = title or name
        self.fetcher = fetcher
        self.first_fetch_limit = first_fetch_limit
        self.deadline = deadline
        self.clock = clock

    async def fetch(self, day: date, *, state: SourceState | None = None) -> FetchResult:
        response = await self.fetcher.get(self.url, headers=conditional_headers(state))
        if response.not_modified:
            return not_modified_result(response, state)
        items = parse_listing(
            response.content,
            source=self.name,
            page_url=response.url,
            link_pattern=self.link_pattern,
            fetched_at=self.clock(),
        )
        if not items:
            raise ParseError(f"no post links matching {self.link_pattern!r} on {response.url} (layout changed?)")
        items = [replace(item, extra={**item.extra, "feed_title": self.title}) for item in items]
        return FetchResult(
            items=mark_backlog(items, state, self.first_fetch_limit),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    async def fetch_one(self, external_id: str) -> Item | None:
        return None
