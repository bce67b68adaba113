"""Command replies (:class:`paperbot.service.commands.Reply`) as Discord message arguments.

Untrusted text (titles, authors, bullets, filter values an admin typed) goes through the digest renderer's
``escape``; links come only from item metadata. Every limit is respected: at most 10 embeds per message and 6000
characters across them, so long answers are spread over several follow-up messages.
"""

from __future__ import annotations

from typing import Any

import discord

from paperbot.digest.render.common import arxiv_id, safe_url
from paperbot.digest.render.discord import (
    AUTHORS_BUDGET,
    LIMITS,
    embed_size,
    escape,
    escape_atom,
    item_embed_head,
)
from paperbot.digest.text import clean, join_limited, truncate
from paperbot.service.commands import PaperView, Reply

#: Room for one paper in a reply that shows up to ``per_message`` of them, within 6000 characters in all.
_MESSAGE_BUDGET = LIMITS["total"] - 200
PAPERS_PER_MESSAGE = 5
COLOR_INFO = 0x2B2D31


def paper_embed(view: PaperView, *, description_budget: int) -> dict[str, Any]:
    item = view.item
    embed, _ = item_embed_head(item)
    fields = [{"name": "👍 HF 추천", "value": str(item.upvotes), "inline": True}]
    if view.channel_votes:
        fields.append({"name": "🗳️ 채널 투표", "value": f"{view.channel_votes:+d}", "inline": True})
    fields.append({"name": "📅 날짜", "value": item.day.isoformat(), "inline": True})
    names = [name for name in (clean(a) for a in item.authors) if name]
    if names:
        fields.append({"name": "✍️ 저자", "value": join_limited(names, AUTHORS_BUDGET, escape_atom), "inline": False})
    if clean(view.reason):
        fields.append({"name": "💡 선정 이유", "value": truncate(view.reason, 256, escape_atom)[0], "inline": False})
    embed["fields"] = fields
    ident = arxiv_id(item)
    if ident:
        embed["footer"] = {"text": f"arXiv {ident}"}
    lines = [f"• {clean(b)}" for b in view.bullets if clean(b)] or ["요약이 아직 없습니다."]
    budget = max(100, min(LIMITS["description"], description_budget - embed_size(embed)))
    embed["description"] = truncate("\n".join(lines), budget, escape_atom)[0]
    return embed


def fields_embed(fields: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {
        "color": COLOR_INFO,
        "fields": [
            {
                "name": truncate(label, LIMITS["field_name"], lambda atom: atom.text)[0],
                "value": _multiline(value) or "-",
                "inline": False,
            }
            for label, value in fields[: LIMITS["fields"]]
        ],
    }


def _multiline(value: str) -> str:
    """Escape each line of a (possibly multi-line) value and keep it within a field."""
    lines = [escape(line) for line in value.splitlines()]
    return truncate("\n".join(lines), LIMITS["field_value"], lambda atom: atom.text)[0]


def reply_messages(reply: Reply) -> list[dict[str, Any]]:
    """``send`` keyword arguments for each message of the reply (the first carries the text)."""
    # ``Reply.text`` is trusted by contract (written by the use case from validated values); it is sent as is.
    text = reply.text
    link_url = safe_url(reply.link[1]) if reply.link else None
    if reply.link and link_url:  # our label and URL; <…> keeps Discord from previewing the page
        text += f"\n🔗 [{reply.link[0]}](<{link_url}>)"
    first_content = truncate(text, LIMITS["content"], lambda atom: atom.text)[0]
    embeds: list[dict[str, Any]] = []
    if reply.fields:
        embeds.append(fields_embed(reply.fields))
    per_paper = _MESSAGE_BUDGET // PAPERS_PER_MESSAGE
    embeds.extend(paper_embed(view, description_budget=per_paper) for view in reply.papers)
    groups = [embeds[i : i + PAPERS_PER_MESSAGE] for i in range(0, len(embeds), PAPERS_PER_MESSAGE)] or [[]]
    messages = []
    for index, group in enumerate(groups):
        kwargs: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
        if index == 0:
            kwargs["content"] = first_content
        if group:
            kwargs["embeds"] = [discord.Embed.from_dict(embed) for embed in group]
        messages.append(kwargs)
    return messages
