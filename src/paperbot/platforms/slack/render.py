"""Command replies (:class:`paperbot.service.commands.Reply`) as Block Kit for ``respond``.

``Reply.text`` is trusted Korean written by the use case; it still goes into a ``plain_text`` section, which Slack
never parses. Papers are drawn by the digest's own card renderer (:func:`paperbot.digest.render.slack.item_card`),
so a paper looks the same in a digest and in an answer. Untrusted text (titles, authors, bullets, filter values an
admin typed) goes through the digest renderer's ``escape`` into ``mrkdwn`` objects with ``verbatim: true``; links
come only from item metadata. At most 50 blocks and 3000 characters per section.
"""

from __future__ import annotations

from typing import Any

from paperbot.digest.render.common import safe_url
from paperbot.digest.render.slack import LIMITS, escape, item_card
from paperbot.digest.text import truncate
from paperbot.domain import DigestEntry
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
    """The paper's blocks exactly as the digest draws them (:func:`item_card`)."""
    entry = DigestEntry(item=view.item, rank=0, reason=view.reason, team_votes=view.channel_votes)
    return item_card(entry, bullets=view.bullets)


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
