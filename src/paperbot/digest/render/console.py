"""Readable plain text for the terminal. Untrusted text is cleaned of control characters (no terminal escapes)."""

from __future__ import annotations

import textwrap

from paperbot.digest.render.common import (
    archive_link,
    authors,
    counts_line,
    empty_line,
    extract_tag,
    failed_sources_note,
    item_link,
    join_topics,
    offline_note,
    outline,
    post_meta,
    title_line,
)
from paperbot.domain import Digest, DigestEntry, DigestKind, ItemKind
from paperbot.untrusted import clean_untrusted

WIDTH = 100
MAX_AUTHORS = 8


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, width=WIDTH, initial_indent=indent, subsequent_indent=indent + "  ", break_long_words=False
    ) or [indent]


def _entry(entry: DigestEntry, *, weekly: bool) -> list[str]:
    item = entry.item
    title = clean_untrusted(item.title) or "(제목 없음)"
    lines = _wrap(f"{entry.rank}. {title}", "")
    facts = []
    if item.kind is ItemKind.PAPER:
        facts.append(f"👍 {item.upvotes}")
    else:
        facts.append(post_meta(item))
    if entry.team_votes:
        facts.append(f"팀 {entry.team_votes:+d}")
    topics = join_topics(entry.topics)
    if topics:
        facts.append(f"[{topics}]")
    tag = extract_tag(entry)
    if tag:
        facts.append(tag)
    lines.append("   " + " · ".join(facts))
    link = item_link(item)
    if link:
        lines.append(f"   {link}")
    names = authors(entry)
    if names:
        shown = ", ".join(names[:MAX_AUTHORS]) + (f" +{len(names) - MAX_AUTHORS}" if len(names) > MAX_AUTHORS else "")
        lines.extend(_wrap(f"저자: {shown}", "   "))
    if clean_untrusted(entry.reason):
        lines.extend(_wrap(f"선정 이유: {clean_untrusted(entry.reason)}", "   "))
    for depth, line in outline(entry)[: 3 if weekly else None]:
        lines.extend(_wrap(f"- {line}", "   " + "  " * depth))
    return [*lines, ""]


def render_console(digest: Digest) -> str:
    lines = [f"📚 {title_line(digest)}"]
    failed = failed_sources_note(digest)
    if digest.is_empty:
        lines.append(clean_untrusted(empty_line(digest)))
        if failed:
            lines.append(f"⚠️ {failed}")
        return "\n".join(lines) + "\n"
    lines.append(counts_line(digest))
    note = offline_note(digest)
    if note:
        lines.append(f"※ {note}")
    link = archive_link(digest)
    if link:
        lines.append(f"{link[0]}: {link[1]}")
    lines.append("")
    weekly = digest.kind is DigestKind.WEEKLY
    for section in digest.sections:
        lines.append(f"== {clean_untrusted(section.title)} ==")
        lines.append("")
        for entry in section.entries:
            lines.extend(_entry(entry, weekly=weekly))
    if failed:
        lines.append(f"⚠️ {failed}")
    return "\n".join(lines).rstrip("\n") + "\n"
