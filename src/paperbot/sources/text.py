"""Small helpers shared by the parsers: HTML-to-text, dates, safe URLs (text is cleaned by
:func:`paperbot.untrusted.clean_untrusted`)."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from paperbot.sources import markup
from paperbot.untrusted import clean_untrusted

_WS = re.compile(r"\s+")
#: Lone UTF-16 surrogates: lenient JSON decoding lets them through, and no database can encode them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: Characters no URL may contain (C0 and C1 controls, DEL): PostgreSQL refuses NUL, browsers strip the rest; and
#: U+FFFD, what an undecodable byte or a forbidden character reference (``&#0;``) became: the link is broken.
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffd]")


#: Elements whose content is not visible text.
_INVISIBLE = ("script", "style", "noscript", "template", "svg")
#: Elements that separate words (the old extractor put a space before each).
_BLOCKS = ("p", "br", "div", "li", "h1", "h2", "h3", "h4")
#: At most this many tags of one fragment (a title, an excerpt) are parsed; feeds repeat fragments per entry.
FRAGMENT_MAX_TAGS = 2_000


def html_to_text(value: object, *, limit: int | None = None) -> str:
    """Visible text of an HTML fragment (scripts and styles dropped), whitespace-normalised.

    BeautifulSoup on lxml, over at most ``max(64 KiB, 32 × limit)`` characters and :data:`FRAGMENT_MAX_TAGS` tags
    of markup: enough for the text kept, and a bound on the work for a hostile one.
    """
    if not isinstance(value, str) or not value:
        return ""
    if "<" not in value:
        return clean_untrusted(html.unescape(value), limit=limit)
    max_chars = max(65_536, 32 * limit) if limit is not None else markup.MAX_MARKUP_BYTES
    root = markup.soup(value, max_chars=max_chars, max_tags=FRAGMENT_MAX_TAGS, what="fragment")
    for hidden in root.find_all(_INVISIBLE):
        hidden.decompose()
    for block in root.find_all(_BLOCKS):
        block.insert_before(" ")
    return clean_untrusted(root.get_text(), limit=limit)


def parse_iso_datetime(value: object) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` accepted) as an aware UTC datetime; None when absent or invalid."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def utc_day(moment: datetime | None, default: date) -> date:
    return moment.astimezone(UTC).date() if moment is not None else default


#: The earliest publication date believed: older ones are typos or placeholders (``1970``, ``0001``), not news.
EARLIEST_PLAUSIBLE = datetime(2000, 1, 1, tzinfo=UTC)
#: How far ahead of the fetch a date may be (time zones, scheduled posts) before it is clamped to the fetch time.
FUTURE_SLACK = timedelta(days=1)


def plausible_datetime(moment: datetime | None, now: datetime) -> datetime | None:
    """``moment`` when believable; a date in the future becomes ``now``, one before 2000 becomes None (unknown)."""
    if moment is None:
        return None
    if moment > now + FUTURE_SLACK:
        return now
    if moment < EARLIEST_PLAUSIBLE:
        return None
    return moment


#: The common case of :func:`safe_http_url`, decided without urlsplit: lower-case http(s), a host of letters, digits,
#: dots and hyphens (so no credentials and no port to check), then nothing but printable ASCII without spaces.
_PLAIN_HTTP_URL = re.compile(r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?:[/?#][!-~]*)?")


def safe_http_url(value: object, *, base: str | None = None) -> str | None:
    """An absolute http(s) URL without credentials, whitespace or control characters, else None (no javascript:,
    data:, …)."""
    if not isinstance(value, str):
        return None
    if len(value) <= 2048 and _PLAIN_HTTP_URL.fullmatch(value):
        return value
    return _checked_http_url(value, base)


def _checked_http_url(value: str, base: str | None) -> str | None:
    """The full check behind :func:`safe_http_url` (tests hold the fast path to it)."""
    text = value.strip()
    if not text or len(text) > 2048 or _WS.search(text) or _URL_CONTROL.search(text) or _SURROGATE.search(text):
        return None
    if base is not None and not urlsplit(text).scheme:
        from urllib.parse import urljoin

        text = urljoin(base, text)
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return text


def canonical_url(url: str) -> str:
    """A stable form of a link for dedup: lower-case scheme/host, no fragment, no tracking query, no trailing /."""
    parts = urlsplit(url)
    query = "&".join(
        part for part in parts.query.split("&") if part and not part.lower().startswith(("utm_", "ref=", "source="))
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))
