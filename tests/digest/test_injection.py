"""Injection: hostile titles, authors and summaries render literally in every target."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from paperbot.digest.build import build_daily
from paperbot.digest.render import discord, render_console, render_discord, render_markdown, render_slack, slack
from paperbot.domain import Digest
from tests.digest.helpers import check_discord_payload, check_slack_payload, paper, post, summary

DAY = date(2024, 4, 19)
ATTACKS = [
    "@everyone",
    "@here",
    "<@123>",
    "<@&1>",
    "<!channel>",
    "<!here>",
    "[x](javascript:alert(1))",
    "# big",
    "||spoiler||",
    "```\ncode\n```",
    "*bold* _it_ ~s~ `c`",
    "> quote",
    "<https://evil.example|click>",
    "https://evil.example/login",
]


def _digest(attack: str) -> Digest:
    hostile = paper(
        "2404.00001", item_id=1, upvotes=5, title=f"{attack} title", authors=(attack, "Real Name"), abstract=attack
    )
    blog = post("p1", item_id=2, title=f"post {attack}", extra={"publisher": attack})
    summaries = {1: summary(1, (attack, f"앞 {attack} 뒤")), 2: summary(2, (attack,))}
    return build_daily(DAY, [hostile], [blog], summaries=summaries)


def _discord_texts(digest: Digest) -> list[str]:
    texts = []
    for message in render_discord(digest):
        check_discord_payload(message.payload)
        if message.item_id is None:  # the header: our own text only (its bold title is ours)
            assert "everyone" not in message.payload["content"]
            continue
        texts.append(message.payload.get("content", ""))
        for embed in message.payload.get("embeds", []):
            texts += [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
            texts += [f["value"] for f in embed.get("fields", [])]
    return texts


@pytest.mark.parametrize("attack", ATTACKS)
def test_discord_shows_attacks_literally(attack: str) -> None:
    digest = _digest(attack)
    texts = _discord_texts(digest)
    joined = "\n".join(texts)
    # Nothing that Discord parses survives unescaped: no mention, no masked link, no bare URL, no markup.
    assert not re.search(r"(?<![\\])<[@#!:t]", joined)
    assert not re.search(r"@(everyone|here)", joined)
    assert "](" not in joined.replace("\\](", "")
    assert not re.search(r"https?://", joined)
    for char in "*_~`|#>[":
        assert not re.search(r"(?<!\\)" + re.escape(char), joined.replace("\\\\", "")), char
    # …and the reader still sees the text itself.
    flat = attack.replace("\n", " ")
    assert any(flat in discord.unescape(t) for t in texts)
    for message in render_discord(digest):
        assert message.payload["allowed_mentions"] == {"parse": []}
        for embed in message.payload.get("embeds", []):
            assert "evil" not in embed.get("url", "")


@pytest.mark.parametrize("attack", ATTACKS)
def test_slack_shows_attacks_literally(attack: str) -> None:
    digest = _digest(attack)
    texts: list[str] = []
    for message in render_slack(digest):
        check_slack_payload(message.payload)
        texts.append(message.payload["text"])
        for block in message.payload["blocks"]:
            if block["type"] == "section":
                texts.append(block["text"]["text"])
            if block["type"] == "context":
                texts += [e["text"] for e in block["elements"]]
    joined = "\n".join(texts)
    # The only "<" Slack may parse are the links we built from metadata.
    for control in re.findall(r"<[^>]*>", joined):
        assert re.fullmatch(r"<https://(arxiv\.org/abs/2404\.00001|example\.com/blog/p1)\|[^<>]*>", control), control
    assert not re.search(r"@(everyone|here|channel)", joined)
    assert not re.search(r"https?://evil", joined)
    for char in "*_~`":
        for line in joined.splitlines():
            stripped = re.sub(r"^\*<https://[^|]+\|", "", line).removesuffix(">*")
            assert char not in stripped, (char, line)
    flat = attack.replace("\n", " ")
    assert any(flat in slack.unescape(t) for t in texts)


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_shows_attacks_literally(attack: str) -> None:
    text = render_markdown(_digest(attack))
    links = re.findall(r"(?<!\\)\]\((?!https://(?:arxiv\.org|example\.com|cdn-thumbnails))", text)
    assert not links
    for line in text.splitlines():
        if line.startswith("- "):
            assert not re.match(r"- (#|>|[-+]|\d+[.)])", line), line
        assert not re.search(r"(?<!\\)[<`*_|~]", line.replace("\\\\", "")), line
    assert not re.search(r"^#+ big", text, re.M)  # never a heading of its own


@pytest.mark.parametrize("attack", ATTACKS)
def test_console_is_plain_text_without_escapes(attack: str) -> None:
    text = render_console(_digest(attack + "\x1b[2J\x07"))
    assert "\x1b" not in text and "\x07" not in text
    assert " ".join(attack.split()) in " ".join(text.split())


def test_metadata_links_must_be_http() -> None:
    bad = paper("2404.00009", item_id=1)
    bad = type(bad)(
        **{
            **{k: getattr(bad, k) for k in ("source", "external_id", "kind", "title", "day")},
            "url": "javascript:alert(1)",
        }
    )
    digest = build_daily(DAY, [bad])
    for message in render_discord(digest):
        for embed in message.payload.get("embeds", []):
            assert "url" not in embed
    assert "javascript" not in json.dumps([m.payload for m in render_slack(digest)])
    assert "](javascript" not in render_markdown(digest)
