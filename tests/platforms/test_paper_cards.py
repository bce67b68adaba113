"""A paper in a command reply is the digest's card: one renderer per platform, the same fields and limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from paperbot.digest.build import build_daily
from paperbot.digest.render.discord import render_discord
from paperbot.digest.render.slack import render_slack
from paperbot.domain import Digest, DigestSection, Item, ItemKind, Summary
from paperbot.platforms.discord.render import paper_embed
from paperbot.platforms.slack.render import paper_blocks
from paperbot.service.commands import PaperView

DAY = date(2024, 4, 19)
REASON = "추천 수가 많고 주제가 겹칩니다. " * 40  # ~760 characters: longer than the old reply limit (256)


def _digest(target: str) -> tuple[Digest, PaperView]:
    """A one-paper digest whose entry carries what a reply knows (no topics; a long reason), and that reply view."""
    item = Item(source="hf_daily", external_id="2404.12001", kind=ItemKind.PAPER, title="Diffusion for speech",
                url="https://arxiv.org/abs/2404.12001", day=DAY, authors=("Kim Minsu",), abstract="x", upvotes=42,
                upvotes_captured_at=datetime(2024, 4, 20, tzinfo=UTC), id=7)  # fmt: skip
    summary = Summary(item_id=7, bullets=("첫째 요점입니다.", "둘째 요점입니다."), backend="llm", model="m",
                      prompt_version="v2", input_hash="h")  # fmt: skip
    built = build_daily(DAY, [item], summaries={7: summary}, target=target)
    entry = replace(built.entries[0], topics=(), reason=REASON, team_votes=3)
    digest = replace(built, sections=(DigestSection(built.sections[0].title, (entry,)),))
    return digest, PaperView(item, summary.bullets, channel_votes=3, reason=REASON)


def test_discord_reply_card_is_the_digest_card() -> None:
    digest, view = _digest("discord:1")
    [digest_embed] = render_discord(digest)[1].payload["embeds"]
    assert paper_embed(view, description_budget=6000) == digest_embed
    [reason] = [f["value"] for f in digest_embed["fields"] if f["name"] == "💡 선정 이유"]
    assert len(reason) > 256  # the digest's limit, not the old reply's


def test_slack_reply_blocks_are_the_digest_blocks() -> None:
    digest, view = _digest("slack:C1")
    assert paper_blocks(view) == render_slack(digest)[1].payload["blocks"]
