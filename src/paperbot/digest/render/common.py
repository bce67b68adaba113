"""What every renderer shares: safe links, display strings and the Korean header lines."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from paperbot.domain import Digest, DigestEntry, DigestKind, Item, ItemKind
from paperbot.untrusted import clean_untrusted

_SAFE_URL_RE = re.compile(r"^https?://[^\s<>\"'`\\|{}^]+$", re.I)
_ARXIV_ID_RE = re.compile(r"^\d{4}\.\d{4,5}(?:v\d+)?$")
NO_SUMMARY = "요약이 아직 없습니다."


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """One message of a rendered digest: the JSON-ready payload and the item it presents (None for headers).

    ``part`` counts continuation messages of one item (0 for the first); publishers store one delivery per message.
    """

    payload: dict[str, Any]
    item_id: int | None = None
    part: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit to put in a link, or None. Only metadata URLs ever become links."""
    if not url:
        return None
    url = url.strip()
    if not _SAFE_URL_RE.match(url) or len(url) > 2000:
        return None
    # Parentheses and brackets would end a Markdown link early.
    return url.replace("(", "%28").replace(")", "%29").replace("[", "%5B").replace("]", "%5D")


def item_link(item: Item) -> str | None:
    return safe_url(item.url)


def thumbnail(item: Item) -> str | None:
    return safe_url(item.thumbnail_url)


def arxiv_id(item: Item) -> str | None:
    ident = item.external_id.strip()
    return ident if _ARXIV_ID_RE.match(ident) else None


def publisher(item: Item) -> str:
    """The company shown beside a post: the source's configured display name (``extra["company"]``, Korean for
    Korean companies; "" for a personal blog), else the collector's other metadata, else the source name."""
    company = item.extra.get("company")
    if isinstance(company, str):
        return clean_untrusted(company)
    for key in ("publisher", "source_title", "feed_title", "blog"):
        value = item.extra.get(key)
        if isinstance(value, str) and clean_untrusted(value):
            return clean_untrusted(value)
    return clean_untrusted(item.source)


def post_date(item: Item) -> str:
    when = item.published_at.date() if item.published_at is not None else item.day
    return when.strftime("%Y.%m.%d")


def post_meta(item: Item) -> str:
    """``2024.11.28, OpenAI`` (the seed's ``Title (YYYY.MM.DD, Company)``), or ``2024.11.28`` for a personal blog."""
    name = publisher(item)
    return f"{post_date(item)}, {name}" if name else post_date(item)


def bullets(entry: DigestEntry) -> list[str]:
    """The entry's summary bullets, cleaned; never empty (an item is never dropped for lack of a summary)."""
    if entry.summary is not None:
        lines = [clean_untrusted(b) for b in entry.summary.bullets]
        lines = [line for line in lines if line]
        if lines:
            return lines
    return [NO_SUMMARY]


def outline(entry: DigestEntry) -> list[tuple[int, str]]:
    """(depth, line) of the entry's summary, cleaned, in order: a post's nested highlights (depth 0 or 1), or the
    flat bullets at depth 0. Never empty; a line cleaned to nothing is left out, its sub-lines kept."""
    if entry.summary is not None:
        lines = [(depth, clean_untrusted(text)) for depth, text in entry.summary.outline]
        kept = [(depth, text) for depth, text in lines if text]
        if kept:
            return [(0 if index == 0 else depth, text) for index, (depth, text) in enumerate(kept)]
    return [(0, NO_SUMMARY)]


#: The per-entry tag of an extractive (offline) summary: in a digest that mixes LLM and offline summaries, it shows
#: which entries quote the abstract rather than summarise it.
EXTRACT_TAG = "원문 발췌"


def extract_tag(entry: DigestEntry) -> str | None:
    """``EXTRACT_TAG`` when the entry's summary is the offline extract (also an LLM's fallback), else None."""
    summary = entry.summary
    return EXTRACT_TAG if summary is not None and summary.backend == "offline" else None


def authors(entry: DigestEntry) -> list[str]:
    return [name for name in (clean_untrusted(a) for a in entry.item.authors) if name]


def is_post(entry: DigestEntry) -> bool:
    return entry.item.kind is ItemKind.POST


def count_kinds(digest: Digest) -> tuple[int, int]:
    papers = sum(1 for e in digest.entries if e.item.kind is ItemKind.PAPER)
    return papers, len(digest.entries) - papers


def posts_only(digest: Digest) -> bool:
    """A daily digest with blog posts but no paper (none that HF day, or none the channel's filters kept): every
    renderer then leaves the papers out of its header, so no empty "Daily Papers" section is shown."""
    papers, posts = count_kinds(digest)
    return digest.kind is DigestKind.DAILY and posts > 0 and papers == 0


def title_line(digest: Digest) -> str:
    """The digest's title, which also heads its first section: ``Daily Papers (day)``, or the posts section's
    title for a posts-only daily digest."""
    if digest.kind is DigestKind.WEEKLY:
        start = digest.start_day.isoformat() if digest.start_day else "?"
        return f"Weekly Best Papers ({start} ~ {digest.day.isoformat()})"
    if posts_only(digest):
        return f"{clean_untrusted(digest.sections[0].title)} ({digest.day.isoformat()})"
    return f"Daily Papers ({digest.day.isoformat()})"


def counts_line(digest: Digest) -> str:
    papers, posts = count_kinds(digest)
    if digest.kind is DigestKind.WEEKLY:
        return f"이번 주 논문 {papers}편 · 블로그 글 {posts}편"
    if posts_only(digest):
        return f"블로그 새 글 {posts}편"
    return f"논문 {papers}편 · 블로그 새 글 {posts}편"


def offline_note(digest: Digest) -> str | None:
    """Plain words when some summaries were made without an LLM."""
    if not digest.offline:
        return None
    with_summary = [e for e in digest.entries if e.summary is not None]
    offline = [e for e in with_summary if e.summary is not None and e.summary.backend == "offline"]
    if len(offline) == len(with_summary):
        return "요약은 LLM 없이 오프라인 모드로 만들었습니다 (원문에서 문장을 골라 옮긴 것입니다)."
    return f"요약 {len(with_summary)}개 중 {len(offline)}개는 LLM 없이 오프라인 모드로 만들었습니다."


def failed_sources_note(digest: Digest) -> str | None:
    """Which sources could not be read for this digest (so an empty section is not mistaken for a quiet day)."""
    names = [name for name in (clean_untrusted(n) for n in digest.failed_sources) if name]
    if not names:
        return None
    return f"가져오지 못한 출처 {len(names)}곳: {', '.join(names)} (이 다이제스트에 빠진 글이 있을 수 있습니다)"


def empty_line(digest: Digest) -> str:
    return digest.empty_reason or "보여 드릴 논문과 블로그 글이 없습니다."


def join_topics(topics: Sequence[str]) -> str:
    return ", ".join(clean_untrusted(t) for t in topics if clean_untrusted(t))


def archive_link(digest: Digest) -> tuple[str, str] | None:
    """(label, URL) of the web archive's page of this digest's day or week, when ``PAPERBOT_WEB_BASE_URL`` is set.

    The label is trusted text written here; the day's page lists every paper, so it says how many there are.
    """
    url = safe_url(digest.archive_url)
    if url is None:
        return None
    if digest.kind is DigestKind.WEEKLY:
        return "이번 주 전체 보기", url
    if digest.total_papers > 0:
        return f"전체 {digest.total_papers}편 보기", url
    return "웹 아카이브에서 보기", url
