"""Page scrapers for blogs without a feed (Anthropic news and engineering, Meta AI).

A listing page is a set of links to posts. We collect every ``<a href>`` whose path matches the source's
``link_pattern``, take the title from a heading inside the link (else its longest text node, so card texts such as
"Aug 18, 2026ScienceTitle" do not end up glued into the title), and the date from a ``<time datetime>`` or a
date-looking text node. Pages carry no ETag worth trusting, so conditional GET is still tried but optional.

Pages are parsed by BeautifulSoup on lxml (:mod:`paperbot.sources.markup`, capped) in a worker thread, and only
the links are built into a tree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from urllib.parse import urljoin, urlsplit

from bs4 import Comment, Tag
from bs4.filter import SoupStrainer

from paperbot.domain import Item, ItemKind, SourceState, utcnow
from paperbot.errors import ParseError
from paperbot.ports import FetchResult
from paperbot.sources import markup
from paperbot.sources.feed import conditional_headers, mark_backlog, not_modified_result, post_key
from paperbot.sources.fetch import Fetcher
from paperbot.sources.text import canonical_url, parse_iso_datetime, plausible_datetime, safe_http_url
from paperbot.sources.worker import checkpoint, in_worker
from paperbot.untrusted import clean_untrusted

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


_INVISIBLE = ("script", "style", "noscript", "template", "svg")


def _link_of(anchor: Tag) -> _Link:
    """Headings, text nodes outside headings, ``<time datetime>`` values and the first image of one link."""
    for hidden in anchor.find_all(_INVISIBLE):
        hidden.decompose()
    link = _Link(href=str(anchor.get("href") or ""))
    for heading in anchor.find_all(_HEADINGS):
        if text := clean_untrusted(heading.get_text()):
            link.headings.append(text)
    for string in anchor.find_all(string=True):
        if isinstance(string, Comment) or string.find_parent(_HEADINGS) is not None:
            continue
        if text := clean_untrusted(str(string)):
            link.texts.append(text)
    link.times = [str(t.get("datetime")) for t in anchor.find_all("time") if t.get("datetime")]
    image = anchor.find("img")
    if isinstance(image, Tag) and image.get("src"):
        link.image = str(image.get("src"))
    return link


def _title_of(link: _Link) -> str:
    if link.headings:
        return link.headings[0]
    candidates = [text for text in link.texts if parse_date_text(text) is None or len(text) > 40]
    return max(candidates, key=len, default="")


def parse_listing(
    page: bytes | str,
    *,
    source: str,
    page_url: str,
    link_pattern: str,
    fetched_at: datetime,
    content_type: str | None = None,
) -> list[Item]:
    """Posts linked from a listing page. Links matching the pattern without any title are ignored."""
    text = markup.decode(page, content_type, html=True) if isinstance(page, bytes) else page
    try:
        pattern = re.compile(link_pattern)
    except re.error as exc:
        raise ParseError(f"bad link_pattern {link_pattern!r}: {exc}") from None
    root = markup.soup(text, parse_only=SoupStrainer("a"), what=f"{source} listing page")
    links = []
    for anchor in root.find_all("a", href=True, limit=_MAX_LINKS):
        checkpoint()
        links.append(_link_of(anchor))
    merged: dict[str, Item] = {}
    page_host = (urlsplit(page_url).hostname or "").lower()
    for link in links:
        url = safe_http_url(urljoin(page_url, link.href.strip()))
        if url is None:
            continue
        parts = urlsplit(url)
        if (parts.hostname or "").lower() != page_host or not pattern.search(parts.path):
            continue
        key = canonical_url(url)
        title = clean_untrusted(_title_of(link), limit=500)
        published = plausible_datetime(
            next(filter(None, (parse_iso_datetime(t) for t in link.times)), None)
            or next(filter(None, (parse_date_text(t) for t in [*link.texts, *link.headings])), None),
            fetched_at,
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
            external_id=post_key(None, key) or key,
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

    #: What it yields (``paperbot.ports.Source.kind``): the scheduler collects papers and posts on their own clocks.
    kind = ItemKind.POST

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
        company: str | None = None,
    ) -> None:
        self.name = name
        #: Stamped on every item as ``extra["company"]`` (the digest's ``Title (date, Company)``) when known.
        self.company = company
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
        items = await in_worker(
            parse_listing,
            response.content,
            source=self.name,
            page_url=response.url,
            link_pattern=self.link_pattern,
            fetched_at=self.clock(),
            content_type=response.headers.get("content-type"),
        )
        if not items:
            raise ParseError(f"no post links matching {self.link_pattern!r} on {response.url} (layout changed?)")
        items = [replace(item, extra={**item.extra, "feed_title": self.title, **self._company}) for item in items]
        return FetchResult(
            items=mark_backlog(items, state, self.first_fetch_limit),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    @property
    def _company(self) -> dict[str, str]:
        return {"company": self.company} if self.company is not None else {}

    async def fetch_one(self, external_id: str) -> Item | None:
        return None
