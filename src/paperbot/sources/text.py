"""Small helpers shared by the parsers: whitespace, HTML-to-text, dates, safe URLs."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

_WS = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def clean_text(value: object, *, limit: int | None = None) -> str:
    """Whitespace-normalised text without control or bidi characters; non-strings become ''."""
    if not isinstance(value, str):
        return ""
    if value.isprintable() and "  " not in value and value == value.strip():
        text = value  # the common case (names, titles): no control, format, bidi or line characters at all
    else:
        if _CONTROL.search(value):
            value = _CONTROL.sub(" ", value)
        # str.split() splits on exactly the characters ``\s`` matches (str.isspace), without a regex
        # substitution per space: abstracts are long, and this runs for every one collected.
        text = " ".join(value.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag in ("p", "br", "div", "li", "h1", "h2", "h3", "h4"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(value: object, *, limit: int | None = None) -> str:
    """Visible text of an HTML fragment (scripts and styles dropped), whitespace-normalised."""
    if not isinstance(value, str) or not value:
        return ""
    if "<" not in value:
        return clean_text(html.unescape(value), limit=limit)
    extractor = _TextExtractor()
    try:
        extractor.feed(value)
        extractor.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        return clean_text(re.sub(r"<[^>]*>", " ", value), limit=limit)
    return clean_text("".join(extractor.parts), limit=limit)


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


#: The common case of :func:`safe_http_url`, decided without urlsplit: lower-case http(s), a host of letters, digits,
#: dots and hyphens (so no credentials and no port to check), then nothing but printable ASCII without spaces.
_PLAIN_HTTP_URL = re.compile(r"https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?:[/?#][!-~]*)?")


def safe_http_url(value: object, *, base: str | None = None) -> str | None:
    """An absolute http(s) URL without credentials or whitespace, else None (no javascript:, data:, …)."""
    if not isinstance(value, str):
        return None
    if len(value) <= 2048 and _PLAIN_HTTP_URL.fullmatch(value):
        return value
    return _checked_http_url(value, base)


def _checked_http_url(value: str, base: str | None) -> str | None:
    """The full check behind :func:`safe_http_url` (tests hold the fast path to it)."""
    text = value.strip()
    if not text or len(text) > 2048 or _WS.search(text):
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
