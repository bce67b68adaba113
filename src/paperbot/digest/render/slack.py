"""Slack: a header message, then the items as thread replies, as Block Kit payloads for ``chat.postMessage``.

Untrusted text goes only into ``mrkdwn`` objects with ``verbatim: true`` (Slack then parses no URL, channel or
mention in it), with ``&``, ``<``, ``>`` escaped as entities (so ``<!channel>`` or ``<@U1>`` are shown, not
parsed), ``@`` followed by a zero-width space, and the mrkdwn markers ``* _ ~ ``` replaced by look-alikes
(mrkdwn has no escape character). Links come only from metadata, as ``<url|text>`` we build. Unfurling is off.

Limits (``LIMITS``) are checked in UTF-16 units: header 150, section text 3000, context elements 10,
50 blocks per message; long summaries continue in further sections and thread messages.
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
    bullets,
    counts_line,
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
from paperbot.digest.text import (
    Atom,
    escape_text,
    join_limited,
    pack_lines,
    split_escaped,
    truncate,
    utf16_len,
)
from paperbot.domain import Digest, DigestEntry, DigestKind, ItemKind
from paperbot.untrusted import clean_untrusted

LIMITS = {"header": 150, "text": 3000, "blocks": 50, "context_elements": 10, "alt_text": 2000, "fallback": 3000}
ZWSP = "\u200b"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
#: mrkdwn markers → look-alikes that Slack does not treat as formatting.
LOOKALIKES = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}
_REVERSE = {v: k for k, v in LOOKALIKES.items()}
AUTHORS_BUDGET = 600


def escape_char(char: str) -> str:
    if char in _ENTITIES:
        return _ENTITIES[char]
    if char in LOOKALIKES:
        return LOOKALIKES[char]
    if char == "@":
        return "@" + ZWSP
    return char


def escape_atom(atom: Atom) -> str:
    text = atom.text
    if atom.is_url:  # verbatim already stops auto-linking; this keeps copy-pasted text unlinked too
        text = text.replace("://", ":" + ZWSP + "//", 1)
    return "".join(escape_char(c) for c in text)


def escape(text: str) -> str:
    """Escape untrusted text for a Slack mrkdwn text object (use with ``verbatim: true``)."""
    return escape_text(clean_untrusted(text), escape_atom)


def unescape(text: str) -> str:
    """Inverse of :func:`escape` up to the look-alikes (for tests): entities back, zero-width spaces out."""
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return "".join(_REVERSE.get(c, c) for c in text if c != ZWSP)


def rich_escape_atom(atom: Atom) -> str:
    """Text of a ``rich_text`` element: shown literally (no mrkdwn, no entities, mentions only as explicit
    elements), so only what a copy-paste would turn live is broken: ``://`` and ``@``."""
    text = atom.text
    if atom.is_url:
        text = text.replace("://", ":" + ZWSP + "//", 1)
    return text.replace("@", "@" + ZWSP)


#: A nested highlight's rich_text block holds at most this many UTF-16 units of text (the section limit: Slack
#: documents none for rich text, and a block this size is well inside a message).
RICH_TEXT_BUDGET = 3000


def _rich_list(depth: int, texts: list[str]) -> dict[str, Any]:
    return {
        "type": "rich_text_list",
        "style": "bullet",
        "indent": depth,
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": t}]} for t in texts],
    }


def rich_outline_blocks(lines: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """A nested highlight as ``rich_text`` blocks: each run of lines of one depth a ``rich_text_list`` with that
    ``indent``, a block closed before it passes :data:`RICH_TEXT_BUDGET`; a line longer than that continues in
    the next list item. Every line is kept, in order."""
    blocks: list[dict[str, Any]] = []
    lists: list[dict[str, Any]] = []
    size = 0
    for depth, line in lines:
        for piece in split_escaped(line, RICH_TEXT_BUDGET, rich_escape_atom):
            cost = utf16_len(piece)
            if lists and size + cost > RICH_TEXT_BUDGET:
                blocks.append({"type": "rich_text", "elements": lists})
                lists, size = [], 0
            if lists and lists[-1]["indent"] == depth:
                lists[-1]["elements"].append(_rich_list(depth, [piece])["elements"][0])
            else:
                lists.append(_rich_list(depth, [piece]))
            size += cost
    if lists:
        blocks.append({"type": "rich_text", "elements": lists})
    return blocks


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(text)}
    if accessory:
        block["accessory"] = accessory
    return block


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(t) for t in texts if t][: LIMITS["context_elements"]]}


def _payload(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    fallback, _ = truncate(text, LIMITS["fallback"], lambda atom: atom.text)
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _header(digest: Digest) -> RenderedMessage:
    heading, _ = truncate(f"📚 {title_line(digest)}", LIMITS["header"], lambda atom: atom.text)
    if digest.is_empty:
        body = escape(empty_line(digest))
    else:
        lines = [escape(counts_line(digest))]
        note = offline_note(digest)
        if note:
            lines.append(f":warning: {escape(note)}")
        lines.append(
            "항목은 이 메시지의 스레드에 있습니다."
            + (" 👍 / 👎 반응으로 투표해 주세요." if digest.kind is DigestKind.DAILY else "")
        )
        body = "\n".join(lines)
    failed = failed_sources_note(digest)
    if failed:
        body += f"\n:warning: {escape(failed)}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": heading, "emoji": True}},
        _section(truncate(body, LIMITS["text"], lambda atom: atom.text)[0]),
    ]
    link = archive_link(digest)
    if link:  # our label and our URL (safe_url admits no <, > or |; & is Slack's one entity left)
        blocks.append(_context(f":card_index_dividers: <{link[1].replace('&', '&amp;')}|{link[0]}>"))
    return RenderedMessage(_payload(f"{title_line(digest)} — {clean_untrusted(body)}", blocks), meta={"kind": "header"})


def _title_text(entry: DigestEntry) -> tuple[str, bool]:
    """``*<url|title>*`` within the section limit (the full title then follows in the bullets if cut)."""
    link = item_link(entry.item)
    room = LIMITS["text"] - (utf16_len(link) + 5 if link else 2) - 64
    title, cut = truncate(clean_untrusted(entry.item.title) or "(제목 없음)", room, escape_atom)
    return (f"*<{link}|{title}>*" if link else f"*{title}*"), cut


def item_card(entry: DigestEntry, *, bullets: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One item's blocks as the digest draws them (command replies reuse them); ``bullets`` replaces the summary's
    when the reply chose its own (e.g. the first)."""
    lines = (
        None
        if bullets is None
        else ([f"• {b}" for b in (clean_untrusted(x) for x in bullets) if b] or [f"• {NO_SUMMARY}"])
    )
    return _entry_blocks(entry, lines=lines)[0]


def _entry_blocks(entry: DigestEntry, *, lines: list[str] | None = None) -> tuple[list[dict[str, Any]], str]:
    item = entry.item
    head, cut = _title_text(entry)
    thumb = thumbnail(item)
    accessory = {"type": "image", "image_url": thumb, "alt_text": "썸네일"} if thumb else None
    blocks = [_section(head, accessory)]
    facts = []
    if item.kind is ItemKind.PAPER:
        facts.append(f"👍 HF 추천 {item.upvotes}")
    else:
        facts.append(escape(post_meta(item)))
    if entry.team_votes:
        facts.append(f"🗳️ 팀 {entry.team_votes:+d}")
    topics = join_topics(entry.topics)
    if topics:
        facts.append("🏷️ " + truncate(topics, 300, escape_atom)[0])
    ident = arxiv_id(item) if item.kind is ItemKind.PAPER else None
    if ident:
        facts.append(f"arXiv {ident}")
    tag = extract_tag(entry)
    if tag:
        facts.append(f"📄 {tag}")
    names = authors(entry)
    blocks.append(
        _context(" · ".join(facts), ("✍️ " + join_limited(names, AUTHORS_BUDGET, escape_atom)) if names else "")
    )
    nested = outline(entry) if lines is None else []
    title_line = [f"제목: {clean_untrusted(item.title)}"] if cut else []
    if any(depth for depth, _ in nested):  # a post's nested highlights: Slack's own bullet lists
        blocks.extend(_section(chunk) for chunk in pack_lines(title_line, LIMITS["text"], escape_atom))
        blocks.extend(rich_outline_blocks(nested))
    else:
        if lines is None:
            lines = [f"• {b}" for b in bullets(entry)]
        lines = [*title_line, *lines]
        blocks.extend(_section(chunk) for chunk in pack_lines(lines, LIMITS["text"], escape_atom))
    if clean_untrusted(entry.reason):
        blocks.append(_context("💡 선정 이유: " + truncate(entry.reason, 1000, escape_atom)[0]))
    return blocks, escape(clean_untrusted(item.title) or "(제목 없음)")  # Slack refuses an empty fallback text


def _split_blocks(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    size = LIMITS["blocks"]
    return [blocks[i : i + size] for i in range(0, len(blocks), size)]


def _weekly_blocks(title: str, entries: tuple[DigestEntry, ...]) -> list[dict[str, Any]]:
    lines = []
    for entry in entries:
        link = item_link(entry.item)
        name, _ = truncate(clean_untrusted(entry.item.title) or "(제목 없음)", 300, escape_atom)
        head = f"<{link}|{name}>" if link else name
        if entry.item.kind is ItemKind.POST:
            meta = escape(post_meta(entry.item))
        else:
            meta = f"👍 {entry.item.upvotes}" + (f" · 팀 {entry.team_votes:+d}" if entry.team_votes else "")
        lines.append(f"{entry.rank}. {head} — {meta}")
    heading, _ = truncate(f"🏷️ {clean_untrusted(title)}", LIMITS["header"], lambda atom: atom.text)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": heading, "emoji": True}}]
    current = ""
    for line in lines:  # already escaped; each line is far below the limit
        if current and utf16_len(current) + 1 + utf16_len(line) > LIMITS["text"]:
            blocks.append(_section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(_section(current))
    return blocks


def render_slack(digest: Digest) -> list[RenderedMessage]:
    """The header message (post it first), then thread replies: one per item (daily) or per topic (weekly)."""
    messages = [_header(digest)]
    if digest.is_empty:
        return messages
    if digest.kind is DigestKind.WEEKLY:
        for section in digest.sections:
            for part, blocks in enumerate(_split_blocks(_weekly_blocks(section.title, section.entries))):
                messages.append(
                    RenderedMessage(
                        _payload(escape(section.title), blocks), part=part, meta={"kind": "section", "thread": True}
                    )
                )
        return messages
    for entry in digest.entries:
        blocks, fallback = _entry_blocks(entry)
        for part, chunk in enumerate(_split_blocks(blocks)):
            messages.append(
                RenderedMessage(
                    _payload(fallback, chunk), item_id=entry.item.id, part=part, meta={"kind": "item", "thread": True}
                )
            )
    return messages
