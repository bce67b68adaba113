"""Command replies (:class:`paperbot.service.commands.Reply`) as Block Kit for ``respond``.

``Reply.text`` is trusted Korean written by the use case; it still goes into a ``plain_text`` section, which Slack
never parses. Untrusted text (titles, authors, bullets, filter values an admin typed) goes through the digest
renderer's ``escape`` into ``mrkdwn`` objects with ``verbatim: true``; links come only from item metadata. At most
50 blocks and 3000 characters per section.
"""

from __future__ import annotations

from typing import Any

from paperbot.digest.render.common import arxiv_id, item_link, safe_url, thumbnail
from paperbot.digest.render.slack import AUTHORS_BUDGET, LIMITS, escape, escape_atom
from paperbot.digest.text import clean, join_limited, truncate
from paperbot.service.commands import PaperView, Reply

_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
MAX_BLOCKS = LIMITS["blocks"]


def entities(text: str) -> str:
    """Escape only ``&``, ``<``, ``>`` (for the notification ``text`` of trusted sentences)."""
    for char, entity in _ENTITIES:
        text = text.replace(char, entity)
    return text


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain_section(text: str) -> dict[str, Any]:
    plain, _ = truncate(text, LIMITS["text"], lambda atom: atom.text)
    return {"type": "section", "text": {"type": "plain_text", "text": plain or " ", "emoji": True}}


def paper_blocks(view: PaperView) -> list[dict[str, Any]]:
    item = view.item
    link = item_link(item)
    room = LIMITS["text"] - (len(link) + 8 if link else 4) - 1500
    title, _ = truncate(clean(item.title) or "(제목 없음)", min(room, 500), escape_atom)
    head = f"*<{link}|{title}>*" if link else f"*{title}*"
    lines = [f"• {clean(b)}" for b in view.bullets if clean(b)] or ["요약이 아직 없습니다."]
    body, _ = truncate("\n".join(lines), LIMITS["text"] - len(head) - 2, escape_atom)
    section: dict[str, Any] = {"type": "section", "text": _mrkdwn(f"{head}\n{body}")}
    thumb = thumbnail(item)
    if thumb:
        section["accessory"] = {"type": "image", "image_url": thumb, "alt_text": "썸네일"}
    facts = [f"👍 HF 추천 {item.upvotes}"]
    if view.channel_votes:
        facts.append(f"🗳️ 채널 투표 {view.channel_votes:+d}")
    facts.append(f"📅 {item.day.isoformat()}")
    ident = arxiv_id(item)
    if ident:
        facts.append(f"arXiv {ident}")
    elements = [_mrkdwn(" · ".join(facts))]
    names = [name for name in (clean(a) for a in item.authors) if name]
    if names:
        elements.append(_mrkdwn("✍️ " + join_limited(names, AUTHORS_BUDGET, escape_atom)))
    if clean(view.reason):
        elements.append(_mrkdwn("💡 " + truncate(view.reason, 500, escape_atom)[0]))
    return [section, {"type": "context", "elements": elements}]


def fields_block(fields: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    lines = []
    for label, value in fields:
        shown = "\n".join(escape(line) for line in value.splitlines()) or "-"
        lines.append(f"*{escape(label)}*\n{shown}")
    text, _ = truncate("\n\n".join(lines), LIMITS["text"], lambda atom: atom.text)
    return {"type": "section", "text": _mrkdwn(text)}


def reply_payload(reply: Reply) -> dict[str, Any]:
    """``respond`` arguments (text, blocks, unfurling off) for one reply; ``response_type`` is the caller's."""
    blocks: list[dict[str, Any]] = [_plain_section(reply.text)]
    if reply.fields:
        blocks.append(fields_block(reply.fields))
    link_url = safe_url(reply.link[1]) if reply.link else None
    room = MAX_BLOCKS - (1 if link_url else 0)
    for view in reply.papers:
        extra = paper_blocks(view)
        if len(blocks) + len(extra) + 1 > room:
            break
        blocks.append({"type": "divider"})
        blocks.extend(extra)
    if reply.link and link_url:  # label and URL are ours (safe_url admits no <, > or |)
        link_text = f"🔗 <{link_url.replace('&', '&amp;')}|{entities(reply.link[0])}>"
        blocks.append({"type": "context", "elements": [_mrkdwn(link_text)]})
    fallback, _ = truncate(entities(reply.text), LIMITS["fallback"], lambda atom: atom.text)
    return {"text": fallback, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def text_payload(text: str) -> dict[str, Any]:
    """A short trusted Korean message (errors, help)."""
    return reply_payload(Reply(text=text))
