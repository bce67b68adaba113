"""Command replies (:class:`paperbot.service.commands.Reply`) as Discord message arguments.

Papers are drawn by the digest's own card renderer (:func:`paperbot.digest.render.discord.item_card`), so a paper
looks the same in a digest and in an answer. Untrusted text (titles, authors, bullets, filter values an admin typed)
goes through the digest renderer's ``escape``; links come only from item metadata. Every limit is respected: at
most 10 embeds per message and 6000 characters across them, so long answers are spread over several messages.
"""

from __future__ import annotations

from typing import Any

import discord

from paperbot.digest.render.common import safe_url
from paperbot.digest.render.discord import LIMITS, escape, item_card
from paperbot.digest.text import truncate
from paperbot.domain import DigestEntry
from paperbot.service.commands import PaperView, Reply

#: Room for one paper in a reply that shows up to ``per_message`` of them, within 6000 characters in all.
_MESSAGE_BUDGET = LIMITS["total"] - 200
PAPERS_PER_MESSAGE = 5
COLOR_INFO = 0x2B2D31


def entry_of(view: PaperView) -> DigestEntry:
    """A reply's paper as a digest entry, so the digest's card renderer draws it."""
    return DigestEntry(item=view.item, rank=0, reason=view.reason, team_votes=view.channel_votes)


def paper_embed(view: PaperView, *, description_budget: int) -> dict[str, Any]:
    """The paper's card exactly as the digest draws it (:func:`item_card`), within ``description_budget``."""
    return item_card(entry_of(view), bullets=view.bullets, budget=description_budget)


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
