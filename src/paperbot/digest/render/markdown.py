"""Markdown in the layout of the team's daily-papers archive (papers) and blog highlights (posts).

Papers::

    ## Daily Papers (2024-04-19)

    ### [Title](https://arxiv.org/abs/ID)

    ![](thumbnail)

    Vote: 5

    Authors: A, B, C

    - bullet

Posts: ``### [Title](url) (2024.11.28, OpenAI)`` (the date alone for a personal blog) then bullets, nested as in
the blog-highlights seed when the summary has two levels (``- point`` / ``  - detail``). With ``annotate=True`` (the default) each item also
gets ``주제:`` and ``선정 이유:`` lines after the authors; ``annotate=False`` is the archive layout exactly.
A daily digest without papers is headed ``## 블로그 새 글 (2024-11-28)`` (no empty Daily Papers section).
Untrusted text is backslash-escaped so it can neither link nor format; links come only from item metadata.
"""

from __future__ import annotations

import re

from paperbot.digest.render.common import (
    archive_link,
    authors,
    empty_line,
    extract_tag,
    failed_sources_note,
    item_link,
    join_topics,
    offline_note,
    outline,
    post_meta,
    thumbnail,
    title_line,
)
from paperbot.domain import Digest, DigestEntry, DigestKind, ItemKind
from paperbot.untrusted import clean_untrusted

# Inline characters with a meaning in CommonMark/GFM. Others (".", "-", "+", "!") only matter at a line start,
# handled by _escape_start; escaping them everywhere would make the archive layout noisy.
_INLINE_RE = re.compile(r"([\\`*_\[\]<>|~&])")
_START_RE = re.compile(r"^(#|>|[-+=]|\d+[.)])")


def escape(text: str) -> str:
    """Escape untrusted text for an inline Markdown context (no formatting, no links, no HTML)."""
    return _INLINE_RE.sub(r"\\\1", clean_untrusted(text))


def _escape_start(text: str) -> str:
    """Escape text placed at the start of a block (a bullet), where #, >, -, 1. would open a block."""
    escaped = escape(text)
    match = _START_RE.match(escaped)
    if match:
        token = match.group(1)
        escaped = token[:-1] + "\\" + token[-1] + escaped[len(token) :]
    return escaped


def _title(entry: DigestEntry, suffix: str = "") -> str:
    title = escape(entry.item.title) or "(제목 없음)"
    link = item_link(entry.item)
    head = f"[{title}]({link})" if link else title
    return f"### {head}{suffix}\n\n"


def _bullets(entry: DigestEntry, indent: str = "") -> str:
    """The summary as a Markdown list; a post's nested highlights as a sub-list (two spaces per level)."""
    tag = extract_tag(entry)
    head = f"{indent}_{tag}_\n\n" if tag else ""
    return head + "".join(f"{indent}{'  ' * depth}- {_escape_start(line)}\n" for depth, line in outline(entry))


def _annotations(entry: DigestEntry) -> str:
    out = ""
    topics = join_topics(entry.topics)
    if topics:
        out += f"주제: {escape(topics)}\n\n"
    if clean_untrusted(entry.reason):
        out += f"선정 이유: {escape(entry.reason)}\n\n"
    return out


def _paper(entry: DigestEntry, annotate: bool) -> str:
    out = _title(entry)
    thumb = thumbnail(entry.item)
    if thumb:
        out += f"![]({thumb})\n\n"
    out += f"Vote: {entry.item.upvotes}\n\n"
    names = authors(entry)
    if names:
        out += f"Authors: {', '.join(escape(n) for n in names)}\n\n"
    if annotate:
        out += _annotations(entry)
    return out + _bullets(entry) + "\n"


def _post(entry: DigestEntry, annotate: bool) -> str:
    out = _title(entry, f" ({escape(post_meta(entry.item))})")
    if annotate:
        out += _annotations(entry)
    return out + _bullets(entry) + "\n"


def _weekly_entry(entry: DigestEntry, annotate: bool) -> str:
    title = escape(entry.item.title) or "(제목 없음)"
    link = item_link(entry.item)
    head = f"[{title}]({link})" if link else title
    if entry.item.kind is ItemKind.POST:
        meta = f" ({escape(post_meta(entry.item))})"
    else:
        meta = f" (Vote: {entry.item.upvotes}" + (f", 팀 {entry.team_votes:+d}" if entry.team_votes else "") + ")"
    out = f"{entry.rank}. {head}{meta}\n"
    if annotate and clean_untrusted(entry.reason):
        out += f"    - 선정 이유: {escape(entry.reason)}\n"
    return out + _bullets(entry, indent="    ") + "\n"


def render_markdown(digest: Digest, *, annotate: bool = True) -> str:
    failed = failed_sources_note(digest)
    footer = f"\n> ⚠️ {escape(failed)}\n" if failed else ""
    return _render_markdown(digest, annotate=annotate) + footer


def _render_markdown(digest: Digest, *, annotate: bool) -> str:
    out = f"## {title_line(digest)}\n\n"
    note = offline_note(digest)
    if note:
        out += f"> {note}\n\n"
    link = archive_link(digest)
    if link:
        out += f"[{link[0]}]({link[1]})\n\n"
    if digest.is_empty:
        return out + f"{escape(empty_line(digest))}\n"
    if digest.kind is DigestKind.WEEKLY:
        for section in digest.sections:
            out += f"### {escape(section.title)}\n\n"
            out += "".join(_weekly_entry(entry, annotate) for entry in section.entries)
        return out
    for index, section in enumerate(digest.sections):
        if index > 0:  # the title line heads the first section (papers, or the posts of a posts-only digest)
            out += f"## {escape(section.title)}\n\n"
        for entry in section.entries:
            out += _post(entry, annotate) if entry.item.kind is ItemKind.POST else _paper(entry, annotate)
    return out
