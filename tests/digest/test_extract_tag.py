"""Every renderer tags an entry whose summary is the offline extract ("원문 발췌"), and only those: a digest that
mixes LLM and offline summaries shows which entries quote the abstract."""

from __future__ import annotations

import json

from paperbot.digest.build import build_daily
from paperbot.digest.render.common import EXTRACT_TAG
from paperbot.digest.render.console import render_console
from paperbot.digest.render.discord import render_discord
from paperbot.digest.render.markdown import render_markdown
from paperbot.digest.render.slack import render_slack
from paperbot.domain import Digest
from tests.digest.helpers import GOLDEN_DAY, paper, summary

LLM_BULLET = "모델이 만든 한국어 요약입니다."
EXTRACT_BULLET = "결과로 “We show it works”라고 보고합니다."


def _mixed() -> Digest:
    items = [paper("2404.00001", upvotes=9, item_id=1), paper("2404.00002", upvotes=1, item_id=2)]
    summaries = {1: summary(1, (LLM_BULLET,)), 2: summary(2, (EXTRACT_BULLET,), backend="offline")}
    return build_daily(GOLDEN_DAY, items, summaries=summaries)


def test_markdown_and_console_tag_the_extract_only() -> None:
    for text in (render_markdown(_mixed()), render_console(_mixed())):
        assert text.count(EXTRACT_TAG) == 1
        # The LLM entry (more upvotes) comes first and is untagged; the tag sits with the extract's entry.
        assert text.index(LLM_BULLET) < text.index(EXTRACT_TAG) < text.index("We show it works")


def test_discord_and_slack_tag_the_extract_only() -> None:
    for messages in (render_discord(_mixed()), render_slack(_mixed())):
        by_item = {m.item_id: json.dumps(m.payload, ensure_ascii=False) for m in messages if m.item_id is not None}
        assert EXTRACT_TAG in by_item[2]
        assert EXTRACT_TAG not in by_item[1]
