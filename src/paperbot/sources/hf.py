"""Hugging Face Daily Papers: the ``api/daily_papers`` JSON, the listing page's embedded JSON as a fallback,
and ``api/papers/{id}`` for single papers.

The format drifted a lot between 2024 and 2026 (``mediaUrl`` → ``thumbnail``, ``submittedOnDailyAt``,
``ai_summary``, ``organization`` …): every field is read with a default, a malformed entry is skipped and logged,
and only :class:`paperbot.errors.ParseError` leaves the parsers.

One odd value costs at most its entry: a body orjson refuses (a lone surrogate ``\\ud800``, an invalid UTF-8 byte)
is decoded again leniently and cleaned, counts are clamped to what the database holds, absurd dates fall back to
the requested day. Responses are parsed in a worker thread (:func:`paperbot.sources.worker.in_worker`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from bs4.filter import SoupStrainer

from paperbot.config import Settings
from paperbot.domain import Item, ItemKind, SourceState, utcnow
from paperbot.errors import ParseError, SourceError
from paperbot.httpclient import origin
from paperbot.ports import FetchResult
from paperbot.sources import markup
from paperbot.sources.fetch import Fetcher, HttpStatusError
from paperbot.sources.text import parse_iso_datetime, plausible_datetime, safe_http_url, utc_day
from paperbot.sources.worker import checkpoint, in_worker
from paperbot.untrusted import clean_untrusted

log = logging.getLogger(__name__)

SOURCE_NAME = "hf_daily"
PAGE_SIZE = 100
MAX_PAGES = 20
#: Where users read a paper; independent of the configured API base (which tests and mirrors change).
HF_PUBLIC_URL = "https://huggingface.co"
_ARXIV_ID = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})$")
#: Every author is kept (2501.14249 has 664; collaboration papers reach a few thousand); this only bounds a hostile list.
_MAX_AUTHORS = 20_000
#: JSON bodies up to this size are parsed in the event loop: orjson and the entry loop are linear, so the worst case
#: is a few milliseconds, less than the hand-off to a parse thread costs a backfill of hundreds of days. Larger
#: bodies (and every HTML page) are parsed in a worker thread.
INLINE_JSON_BYTES = 128 * 1024
#: The largest count stored (upvotes, stars, comments): the database's 32-bit integer.
MAX_COUNT = 2**31 - 1


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """Items parsed from one response, how many entries it had, how many were skipped."""

    items: list[Item]
    entries: int
    skipped: int


# Decoded JSON objects are dicts: the parsers test ``isinstance(x, dict)``, several times cheaper than the Mapping ABC
# on the ~20 values of every paper.


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    """A non-negative count, clamped to :data:`MAX_COUNT`; None for anything that is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        # ASCII only: '²'.isdigit() is True and int('²') raises.
        if not (text.isascii() and text.isdigit() and len(text) < 20):
            return None
        value = int(text)
    if isinstance(value, int):
        return min(max(0, value), MAX_COUNT)
    return None


def _name_of(value: Any) -> str | None:
    """The display name of a user or organisation object (fullname, else name), or a plain string."""
    if isinstance(value, dict):
        return clean_untrusted(_str(value.get("fullname")) or _str(value.get("name")), limit=200) or None
    return clean_untrusted(value, limit=200) or None


def _authors(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names: list[str] = []
    for index, author in enumerate(value[:_MAX_AUTHORS]):
        if index % 1000 == 999:
            checkpoint()
        if isinstance(author, dict):
            name = _str(author.get("name"))
            user = author.get("user")
            if name is None and isinstance(user, dict):
                name = _str(user.get("fullname"))
        else:
            name = _str(author)
        cleaned = clean_untrusted(name, limit=200)
        if cleaned:
            names.append(cleaned)
    return tuple(names)


def _keywords(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [kw for kw in (clean_untrusted(v, limit=100) for v in value[:50]) if kw]


def parse_paper(
    paper: Mapping[str, Any],
    *,
    day: date,
    captured_at: datetime,
    entry: Mapping[str, Any] | None = None,
    source: str = SOURCE_NAME,
) -> Item:
    """Map one HF paper object (plus its daily-papers wrapper, if any) to an Item; ParseError if unusable."""
    outer: Mapping[str, Any] = entry if entry is not None else {}
    arxiv_id = _str(paper.get("id"))
    if arxiv_id is None or not _ARXIV_ID.match(arxiv_id.strip()):
        raise ParseError(f"paper without a valid arXiv id: {str(paper.get('id'))[:40]!r}")
    arxiv_id = arxiv_id.strip()
    title = clean_untrusted(paper.get("title"), limit=1000) or clean_untrusted(outer.get("title"), limit=1000)
    if not title:
        raise ParseError(f"paper {arxiv_id} has no title")
    abstract = clean_untrusted(paper.get("summary"), limit=20_000) or clean_untrusted(
        outer.get("summary"), limit=20_000
    )
    upvotes = _int(paper.get("upvotes"))
    if upvotes is None:
        upvotes = _int(outer.get("upvotes")) or 0
    submitted_on_daily = parse_iso_datetime(paper.get("submittedOnDailyAt"))
    if plausible_datetime(submitted_on_daily, captured_at) != submitted_on_daily:
        submitted_on_daily = None  # 2099 or 1970 is not believed: the requested day is the better guess
    thumbnail = safe_http_url(outer.get("thumbnail")) or safe_http_url(outer.get("mediaUrl"))
    extra: dict[str, Any] = {"hf_url": f"{HF_PUBLIC_URL}/papers/{arxiv_id}"}
    optional: dict[str, Any] = {
        "ai_summary": clean_untrusted(paper.get("ai_summary"), limit=2000) or None,
        "ai_keywords": _keywords(paper.get("ai_keywords")) or None,
        "github_repo": safe_http_url(paper.get("githubRepo")),
        "github_stars": _int(paper.get("githubStars")),
        "project_page": safe_http_url(paper.get("projectPage")),
        "organization": _name_of(outer.get("organization")) or _name_of(paper.get("organization")),
        "num_comments": _int(outer.get("numComments")),
        "submitted_by": _name_of(outer.get("submittedBy")) or _name_of(paper.get("submittedOnDailyBy")),
    }
    extra.update({key: value for key, value in optional.items() if value is not None})
    return Item(
        source=source,
        external_id=arxiv_id,
        kind=ItemKind.PAPER,
        title=title,
        url=f"https://arxiv.org/abs/{arxiv_id}",
        day=utc_day(submitted_on_daily, day),
        authors=_authors(paper.get("authors")),
        abstract=abstract,
        thumbnail_url=thumbnail,
        published_at=plausible_datetime(parse_iso_datetime(paper.get("publishedAt")), captured_at),
        upvotes=upvotes,
        upvotes_captured_at=captured_at,
        extra=extra,
    )


def parse_entries(data: Any, *, day: date, captured_at: datetime, source: str = SOURCE_NAME) -> ParsedPage:
    """Parse a decoded ``api/daily_papers`` list. Bad entries are skipped and logged; a non-list is a ParseError."""
    if isinstance(data, dict) and isinstance(data.get("dailyPapers"), list):
        data = data["dailyPapers"]
    if not isinstance(data, list):
        detail = f": {clean_untrusted(data.get('error'), limit=200)}" if isinstance(data, dict) else ""
        raise ParseError(f"daily papers response is a {type(data).__name__}, not a list{detail}")
    items: list[Item] = []
    skipped = 0
    for index, entry in enumerate(data):
        checkpoint()
        try:
            if not isinstance(entry, dict):
                raise ParseError(f"entry is a {type(entry).__name__}")
            paper = entry.get("paper")
            if not isinstance(paper, dict):
                raise ParseError("entry has no paper object")
            items.append(parse_paper(paper, day=day, captured_at=captured_at, entry=entry, source=source))
        except ParseError as exc:
            skipped += 1
            log.warning(
                "skipped a malformed daily-papers entry", extra={"index": index, "day": str(day), "error": str(exc)}
            )
    return ParsedPage(items, len(data), skipped)


def _decode_json(content: bytes | str) -> Any:
    """orjson first (fast, strict); what it refuses is decoded again leniently, so one bad string costs one entry.

    orjson rejects lone surrogates (``"\\ud800"``) and invalid UTF-8, and one such title used to lose the day. The
    standard library accepts the first, replacement decoding the second; the parsers clean the strings.
    """
    try:
        return orjson.loads(content)
    except (ValueError, RecursionError):  # orjson.JSONDecodeError is a ValueError
        pass
    text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # also int('9' * 5000): Python's digit limit
        raise ParseError(f"not JSON: {type(exc).__name__}") from None


def parse_daily_papers(
    content: bytes | str, *, day: date, captured_at: datetime, source: str = SOURCE_NAME
) -> ParsedPage:
    """Parse the raw body of ``GET /api/daily_papers``."""
    return parse_entries(_decode_json(content), day=day, captured_at=captured_at, source=source)


def embedded_props(page: bytes | str, target: str) -> Any:
    """The decoded ``data-props`` JSON of the first ``data-target=target`` element of a Svelte-hydrated HF page."""
    text = markup.decode(page, html=True) if isinstance(page, bytes) else page
    wanted = SoupStrainer(attrs={"data-target": target})
    element = markup.soup(text, parse_only=wanted, what="HF listing page").find(True, attrs={"data-target": target})
    props = element.get("data-props") if element is not None else None
    if not isinstance(props, str) or not props:
        raise ParseError(f"no data-target={target!r} element with data-props in the page")
    return _decode_json(props)


def parse_listing_page(page: bytes | str, *, day: date, captured_at: datetime, source: str = SOURCE_NAME) -> ParsedPage:
    """Parse the daily listing page (``/papers/date/D``) through its ``DailyPapers`` props."""
    props = embedded_props(page, "DailyPapers")
    if not isinstance(props, dict) or not isinstance(props.get("dailyPapers"), list):
        raise ParseError("DailyPapers props without a dailyPapers list")
    return parse_entries(props["dailyPapers"], day=day, captured_at=captured_at, source=source)


def parse_single_paper(content: bytes | str, *, captured_at: datetime, source: str = SOURCE_NAME) -> Item:
    """Parse ``GET /api/papers/{id}`` (a bare paper object). The day is the Daily Papers day, else the arXiv day."""
    data = _decode_json(content)
    if not isinstance(data, dict):
        raise ParseError(f"paper response is a {type(data).__name__}, not an object")
    if "paper" in data and isinstance(data["paper"], dict):  # paper-page props shape
        data = data["paper"]
    published = plausible_datetime(parse_iso_datetime(data.get("publishedAt")), captured_at)
    fallback_day = utc_day(published, captured_at.date())
    return parse_paper(data, day=fallback_day, captured_at=captured_at, source=source)


class HFDailySource:
    """The ``hf_daily`` source: one day of Daily Papers, paged, with the listing page as a fallback."""

    #: What it yields (``paperbot.ports.Source.kind``): the scheduler collects papers and posts on their own clocks.
    kind = ItemKind.PAPER

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        name: str = SOURCE_NAME,
        base_url: str = HF_PUBLIC_URL,
        deadline: float = 120.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline
        self.clock = clock
        self._trusted = frozenset({origin(self.base_url)})

    @classmethod
    def from_settings(cls, settings: Settings, fetcher: Fetcher, *, name: str = SOURCE_NAME) -> HFDailySource:
        return cls(fetcher, name=name, base_url=settings.hf_base_url, deadline=settings.source_deadline)

    def api_url(self, day: date, page: int) -> str:
        return f"{self.base_url}/api/daily_papers?date={day.isoformat()}&limit={PAGE_SIZE}&p={page}"

    def listing_url(self, day: date) -> str:
        return f"{self.base_url}/papers/date/{day.isoformat()}"

    async def fetch(self, day: date, *, state: SourceState | None = None) -> FetchResult:
        captured_at = self.clock()
        try:
            items, skipped = await self._fetch_api(day, captured_at)
        except SourceError as api_error:
            log.warning(
                "daily papers API failed, trying the listing page", extra={"day": str(day), "error": str(api_error)}
            )
            try:
                response = await self.fetcher.get(self.listing_url(day), trusted_origins=self._trusted)
                parsed = await in_worker(
                    parse_listing_page, response.content, day=day, captured_at=captured_at, source=self.name
                )
            except SourceError as page_error:
                raise SourceError(f"API: {api_error}; listing page: {page_error}") from page_error
            items, skipped = parsed.items, parsed.skipped
        # Dedup across pages (a paper can move between pages while upvotes change).
        unique = list({item.external_id: item for item in items}.values())
        day_end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        not_ready = len(unique) <= 1 and captured_at < day_end
        return FetchResult(items=unique, skipped=skipped, not_ready=not_ready)

    async def _fetch_api(self, day: date, captured_at: datetime) -> tuple[list[Item], int]:
        items: list[Item] = []
        skipped = 0
        for page in range(MAX_PAGES):
            response = await self.fetcher.get(self.api_url(day, page), trusted_origins=self._trusted)
            if len(response.content) <= INLINE_JSON_BYTES:
                parsed = parse_daily_papers(response.content, day=day, captured_at=captured_at, source=self.name)
            else:
                parsed = await in_worker(
                    parse_daily_papers, response.content, day=day, captured_at=captured_at, source=self.name
                )
            if parsed.entries and not parsed.items:
                raise ParseError(f"none of the {parsed.entries} entries on page {page} could be parsed")
            items.extend(parsed.items)
            skipped += parsed.skipped
            if parsed.entries < PAGE_SIZE:
                break
        return items, skipped

    async def fetch_one(self, external_id: str) -> Item | None:
        if not _ARXIV_ID.match(external_id):
            return None
        try:
            response = await self.fetcher.get(
                f"{self.base_url}/api/papers/{external_id}", trusted_origins=self._trusted
            )
        except HttpStatusError as exc:
            if exc.status == 404:
                return None
            raise
        return await in_worker(parse_single_paper, response.content, captured_at=self.clock(), source=self.name)
