"""Untrusted HTML and XML bytes: charset decoding and size-capped BeautifulSoup (on lxml) parsing.

``html.parser`` is quadratic on unclosed markup (CVE-2025-6069): a 240 KB page of ``<!--`` kept a collect busy for
minutes. lxml's C parser is linear, but BeautifulSoup still builds a Python object per tag (about 12 µs and 500
bytes each, measured), so markup is cut to :data:`MAX_MARKUP_BYTES` and :data:`MAX_TAGS` before it is parsed.
Callers run parses in a worker thread (:mod:`paperbot.sources.worker`).
"""

from __future__ import annotations

import codecs
import logging
import re
from typing import Any

from bs4 import BeautifulSoup
from bs4.filter import SoupStrainer

log = logging.getLogger(__name__)

#: Largest markup handed to the parser. Real listing pages are well under 2 MB.
MAX_MARKUP_BYTES = 5_000_000
#: Most tags parsed from one page (a '<' counts as one): ~1.5 s and ~60 MB at worst on a small VM.
MAX_TAGS = 100_000

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip
_HTTP_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"'][^>]*\?>", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)


def _codec(name: str | bytes | None) -> str | None:
    """A Python codec name for a declared charset, or None when unknown or not ASCII-compatible."""
    if not name:
        return None
    label = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        codec = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return codec


def detect_charset(content: bytes, content_type: str | None = None, *, html: bool = False) -> tuple[str, str]:
    """(codec, where it came from): byte-order mark, HTTP charset, XML declaration or ``<meta>``, else UTF-8.

    The order is RFC 7303 §3 for XML and the WHATWG encoding sniffing order for HTML (BOM, transport layer, then
    the document's own declaration). There is no guessing: what is not declared is UTF-8, the default of both.
    """
    for bom, bom_codec in _BOMS:
        if content.startswith(bom):
            return bom_codec, "bom"
    if content_type and (declared := _HTTP_CHARSET.search(content_type)) and (http := _codec(declared.group(1))):
        return http, "http"
    head = content[:1024]
    for where, pattern in (("xml", _XML_DECLARATION), ("meta", _META_CHARSET)):
        if where == "meta" and not html:
            continue
        found = pattern.match(head) if where == "xml" else pattern.search(head)
        if found and (codec := _codec(found.group(1))):
            return ("utf-8" if codec.startswith("utf-16") else codec), where  # UTF-16 without a BOM is a lie
    return "utf-8", "default"


def decode(content: bytes, content_type: str | None = None, *, html: bool = False) -> str:
    """The text of a document in its declared charset; undecodable bytes become U+FFFD, one by one."""
    codec, _ = detect_charset(content, content_type, html=html)
    text = content.decode(codec, errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def cap(markup: str, *, max_chars: int = MAX_MARKUP_BYTES, max_tags: int = MAX_TAGS, what: str = "markup") -> str:
    """The markup cut to ``max_chars`` and to just before its ``max_tags + 1``-th '<' (logged when cut)."""
    cut = markup[:max_chars]
    if cut.count("<") > max_tags:
        position = -1
        for _ in range(max_tags + 1):
            position = cut.find("<", position + 1)
        cut = cut[:position]
    if len(cut) < len(markup):
        log.warning("markup cut before parsing", extra={"what": what, "chars": len(markup), "kept": len(cut)})
    return cut


_XML_PROLOG = re.compile(r"^\s*<\?xml[^>]*>")


def soup(
    markup: str,
    *,
    parse_only: SoupStrainer | None = None,
    max_chars: int = MAX_MARKUP_BYTES,
    max_tags: int = MAX_TAGS,
    what: str = "page",
) -> BeautifulSoup:
    """BeautifulSoup on lxml over the capped markup (never html.parser).

    Markup without any tag, and an XML declaration, are handled before BeautifulSoup sees them: it would warn
    about both (MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning), and a warning in a parse thread must not
    become an error (the test suite turns warnings into errors).
    """
    kwargs: dict[str, Any] = {"parse_only": parse_only} if parse_only is not None else {}
    text = cap(markup, max_chars=max_chars, max_tags=max_tags, what=what)
    if "<" not in text:
        text = f"<p>{text}</p>"
    elif text.lstrip().startswith("<?xml"):
        text = _XML_PROLOG.sub("", text, count=1)
    return BeautifulSoup(text, "lxml", **kwargs)
