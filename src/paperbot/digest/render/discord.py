"""Discord: a header message, then one message per item with an embed, as JSON-ready REST payloads.

Every payload carries ``allowed_mentions: {"parse": []}`` so nothing can ping, and untrusted text is escaped:
Markdown characters get a backslash, ``@`` gets a zero-width space after it (``@everyone`` cannot become a
mention), and URLs in summaries get one after ``:`` so they are shown, not linked. Links come only from metadata
(the embed ``url``, the thumbnail, masked links we build from item URLs).

Limits (``LIMITS``) are checked in UTF-16 units; long summaries continue in further embeds and messages, split only
between atoms (see :mod:`paperbot.digest.text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paperbot.digest.render.common import (
    NO_SUMMARY,
    RenderedMessage,
    archive_link,
    arxiv_id,
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
    posts_only,
    thumbnail,
    title_line,
)
from paperbot.digest.text import Atom, escape_text, join_limited, pack_lines, truncate, utf16_len
from paperbot.domain import Digest, DigestEntry, DigestKind, Item, ItemKind
from paperbot.untrusted import clean_untrusted

LIMITS = {
    "content": 2000,
    "title": 256,
    "description": 4096,
    "field_name": 256,
    "field_value": 1024,
    "fields": 25,
    "footer": 2048,
    "embeds": 10,
    "total": 6000,
}
NO_MENTIONS: dict[str, Any] = {"parse": []}
ZWSP = "\u200b"
COLOR_PAPER = 0xFFD21E
COLOR_POST = 0x5865F2
AUTHORS_BUDGET = 400
#: Indent of a nested highlight's second level in an embed description: Discord trims leading ASCII spaces of a
#: line in embeds, not an em space.
SUB_INDENT = "\u2003"
_MARKDOWN = set("\\*_~`|><#-[]()")


def escape_char(char: str) -> str:
    if char in _MARKDOWN:
        return "\\" + char
    if char == "@":
        return "@" + ZWSP
    return char


def escape_atom(atom: Atom) -> str:
    """Escape one atom. URLs: break ``://`` and ``www.`` so Discord shows them as text, then escape as usual."""
    text = atom.text
    if atom.is_url:
        text = text.replace("://", ":" + ZWSP + "//", 1)
        if text.lower().startswith("www."):
            text = text[:3] + ZWSP + text[3:]
        elif "discord" in text.lower() and "/" in text and "://" not in atom.text:
            text = text.replace("/", ZWSP + "/", 1)
    return "".join(escape_char(c) for c in text)


def escape(text: str) -> str:
    """Escape untrusted text for any Discord text field (content, title, description, field, footer)."""
    return escape_text(clean_untrusted(text), escape_atom)


def unescape(text: str) -> str:
    """Inverse of :func:`escape` (for tests and logs): drop our backslashes and zero-width spaces."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _MARKDOWN:
            out.append(text[index + 1])
            index += 2
            continue
        if char != ZWSP:
            out.append(char)
        index += 1
    return "".join(out)


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6000 per message: title, description, fields, footer, author."""
    size = utf16_len(embed.get("title", "")) + utf16_len(embed.get("description", ""))
    for f in embed.get("fields", []):
        size += utf16_len(f["name"]) + utf16_len(f["value"])
    size += utf16_len(embed.get("footer", {}).get("text", ""))
    size += utf16_len(embed.get("author", {}).get("name", ""))
    return size


def _message(*, content: str | None = None, embeds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if content is not None:
        payload["content"] = content
    if embeds:
        payload["embeds"] = embeds
    payload["allowed_mentions"] = dict(NO_MENTIONS)
    return payload


def _header(digest: Digest) -> RenderedMessage:
    lines = [f"📚 **{title_line(digest)}**"]
    if digest.is_empty:
        lines.append(escape(empty_line(digest)))
    else:
        lines.append(escape(counts_line(digest)))
        note = offline_note(digest)
        if note:
            lines.append(f"⚠️ {escape(note)}")
        if posts_only(digest):  # posts' votes rank the week's posts (build_weekly)
            lines.append("글마다 👍 / 👎 반응으로 투표하면 주간 다이제스트의 블로그 순위에 반영됩니다.")
        elif digest.kind is DigestKind.DAILY:
            lines.append("논문마다 👍 / 👎 반응으로 투표하면 다음 다이제스트 순위에 반영됩니다.")
    link = archive_link(digest)
    if link:  # our label and our URL; <…> keeps Discord from adding a preview of the page
        lines.append(f"🗂️ [{link[0]}](<{link[1]}>)")
    failed = failed_sources_note(digest)
    if failed:
        lines.append(f"⚠️ {escape(failed)}")
    content, _ = truncate("\n".join(lines), LIMITS["content"], lambda atom: atom.text)
    return RenderedMessage(_message(content=content), meta={"kind": "header"})


def _field(name: str, value: str, *, inline: bool) -> dict[str, Any]:
    return {"name": name, "value": value or "-", "inline": inline}


def item_embed_head(item: Item) -> tuple[dict[str, Any], bool]:
    """An item's embed with its escaped title, colour, link and thumbnail (links only from metadata).

    The flag says whether the title was cut to fit the 256-character limit.
    """
    title, cut = truncate(clean_untrusted(item.title) or "(제목 없음)", LIMITS["title"], escape_atom)
    embed: dict[str, Any] = {"title": title, "color": COLOR_POST if item.kind is ItemKind.POST else COLOR_PAPER}
    link = item_link(item)
    if link:
        embed["url"] = link
    thumb = thumbnail(item)
    if thumb:
        embed["thumbnail"] = {"url": thumb}
    return embed, cut


def _entry_embed(entry: DigestEntry) -> tuple[dict[str, Any], list[str]]:
    """The first embed of an item (without description) and the description lines still to place."""
    item = entry.item
    embed, cut = item_embed_head(item)
    fields = []
    if item.kind is ItemKind.PAPER:
        fields.append(_field("👍 HF 추천", str(item.upvotes), inline=True))
    if entry.team_votes:
        fields.append(_field("🗳️ 팀 투표", f"{entry.team_votes:+d}", inline=True))
    topics = join_topics(entry.topics)
    if topics:
        fields.append(_field("🏷️ 주제", truncate(topics, 256, escape_atom)[0], inline=True))
    names = authors(entry)
    if names:
        fields.append(_field("✍️ 저자", join_limited(names, AUTHORS_BUDGET, escape_atom), inline=False))
    tag = extract_tag(entry)
    if tag:
        fields.append(_field("📄 요약", tag, inline=True))
    if clean_untrusted(entry.reason):
        fields.append(_field("💡 선정 이유", truncate(entry.reason, 512, escape_atom)[0], inline=False))
    embed["fields"] = fields
    if item.kind is ItemKind.POST:
        footer = post_meta(item)
    else:
        ident = arxiv_id(item)
        footer = f"arXiv {ident} · HF {item.day.isoformat()}" if ident else f"HF {item.day.isoformat()}"
    embed["footer"] = {"text": truncate(footer, 256, escape_atom)[0]}
    lines = [(f"{SUB_INDENT}◦ {line}" if depth else f"• {line}") for depth, line in outline(entry)]
    if cut:
        lines.insert(0, f"제목: {clean_untrusted(item.title)}")
    return embed, lines


def item_card(
    entry: DigestEntry, *, bullets: Sequence[str] | None = None, budget: int = LIMITS["total"]
) -> dict[str, Any]:
    """One item's card as the digest draws it, in a single embed of at most ``budget`` characters (command replies
    show several per message); ``bullets`` replaces the summary's when the reply chose its own (e.g. the first)."""
    embed, lines = _entry_embed(entry)
    if bullets is not None:
        lines = [f"• {line}" for line in (clean_untrusted(b) for b in bullets) if line] or [f"• {NO_SUMMARY}"]
    room = max(100, min(LIMITS["description"], budget - embed_size(embed)))
    embed["description"] = truncate("\n".join(lines), room, escape_atom)[0]
    return embed


def _entry_messages(entry: DigestEntry) -> list[RenderedMessage]:
    first, lines = _entry_embed(entry)
    # One description budget for every chunk, small enough that the first embed stays within 6000 too.
    budget = min(LIMITS["description"], LIMITS["total"] - embed_size(first))
    chunks = pack_lines(lines, budget, escape_atom)
    first["description"] = chunks[0]
    messages: list[list[dict[str, Any]]] = [[first]]
    for chunk in chunks[1:]:
        embed = {"description": chunk, "color": first["color"]}
        current = messages[-1]
        if (
            len(current) < LIMITS["embeds"]
            and sum(embed_size(e) for e in current) + embed_size(embed) <= LIMITS["total"]
        ):
            current.append(embed)
        else:
            messages.append([embed])
    return [
        RenderedMessage(_message(embeds=embeds), item_id=entry.item.id, part=part, meta={"kind": "item"})
        for part, embeds in enumerate(messages)
    ]


def _weekly_line(entry: DigestEntry) -> str:
    title, _ = truncate(clean_untrusted(entry.item.title) or "(제목 없음)", 200, escape_atom)
    link = item_link(entry.item)
    head = f"[{title}]({link})" if link else title
    if entry.item.kind is ItemKind.POST:
        meta = escape(post_meta(entry.item))
    else:
        meta = f"👍 {entry.item.upvotes}" + (f" · 팀 {entry.team_votes:+d}" if entry.team_votes else "")
    return f"{entry.rank}. {head} — {meta}"


def _weekly_section(title: str, entries: tuple[DigestEntry, ...]) -> list[RenderedMessage]:
    lines = [_weekly_line(e) for e in entries]
    chunks: list[str] = []
    current = ""
    for line in lines:  # lines are already escaped, and each is far below the limit
        if current and utf16_len(current) + 1 + utf16_len(line) > LIMITS["description"]:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    name = truncate(f"🏷️ {title}", LIMITS["title"], escape_atom)[0]
    return [
        RenderedMessage(
            _message(embeds=[{"title": name, "description": chunk, "color": COLOR_PAPER}]),
            part=part,
            meta={"kind": "section"},
        )
        for part, chunk in enumerate(chunks)
    ]


def render_discord(digest: Digest) -> list[RenderedMessage]:
    """Header first, then one message per item (daily) or per topic (weekly); continuations follow their item."""
    messages = [_header(digest)]
    if digest.is_empty:
        return messages
    if digest.kind is DigestKind.WEEKLY:
        for section in digest.sections:
            messages.extend(_weekly_section(section.title, section.entries))
        return messages
    for entry in digest.entries:
        messages.extend(_entry_messages(entry))
    return messages
