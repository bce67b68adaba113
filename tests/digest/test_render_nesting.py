"""Property tests for nested highlights (issue 17): a post's two-level summary renders on Discord, Slack, Markdown
and the console within every limit, and no line is lost, reordered or moved to the other level."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.digest.build import build_daily
from paperbot.digest.render import discord, markdown, render_console, render_discord, render_markdown, render_slack
from paperbot.digest.render.common import NO_SUMMARY
from paperbot.digest.render.slack import ZWSP
from paperbot.domain import Digest
from paperbot.untrusted import clean_untrusted
from tests.digest.helpers import check_discord_payload, check_slack_payload, post, summary
from tests.digest.strategies import hostile_text, long_text

DAY = date(2024, 11, 1)
Outline = list[tuple[int, str]]


@st.composite
def nested_digest(draw: st.DrawFn) -> tuple[Digest, dict[int, Outline]]:
    """One to three posts, each with up to 14 lines at depth 0 or 1 (hostile text, some a few thousand
    characters; a first line at depth 1 and lines that clean to nothing included on purpose)."""
    count = draw(st.integers(min_value=1, max_value=3))
    posts = []
    raw: dict[int, Outline] = {}
    summaries = {}
    for index in range(1, count + 1):
        title = draw(st.one_of(hostile_text(8), long_text))
        posts.append(post(f"p{index}", day=DAY, title=title, item_id=index, extra={"company": "카카오"}))
        text = st.one_of(hostile_text(20), hostile_text(20), long_text, st.sampled_from(["", " ", "\u200b"]))
        lines = draw(st.lists(st.tuples(st.integers(0, 1), text), min_size=1, max_size=14))
        if not any(depth for depth, _ in lines):
            lines.append((1, draw(hostile_text(10))))
        raw[index] = lines
        bullets = tuple(text for _, text in lines)
        summaries[index] = replace(summary(index, bullets), levels=tuple(depth for depth, _ in lines))
    return build_daily(DAY, [], posts, summaries=summaries), raw


def expected(lines: Outline) -> Outline:
    """What the reader must see: every line that is not empty once cleaned, in order, at its depth (the first
    shown line is top level: a sub-point needs a point above it)."""
    kept = [(depth, clean_untrusted(text)) for depth, text in lines if clean_untrusted(text)]
    if not kept:
        return [(0, NO_SUMMARY)]
    return [(0 if index == 0 else depth, text) for index, (depth, text) in enumerate(kept)]


@settings(max_examples=40, deadline=None)
@given(nested_digest())
def test_discord_keeps_every_nested_line_in_order_and_at_its_depth(case: tuple[Digest, dict[int, Outline]]) -> None:
    digest, raw = case
    messages = render_discord(digest)
    for message in messages:
        check_discord_payload(message.payload)
    for entry in digest.entries:
        assert entry.item.id is not None
        embeds = [e for m in messages if m.item_id == entry.item.id for e in m.payload["embeds"]]
        want = [
            f"{discord.SUB_INDENT}◦ {text}" if depth else f"• {text}" for depth, text in expected(raw[entry.item.id])
        ]
        title = clean_untrusted(entry.item.title)
        first_title = discord.unescape(embeds[0]["title"])
        if first_title.endswith("…") and first_title != title:
            want.insert(0, f"제목: {title}")
        shown = discord.unescape("".join(e["description"] for e in embeds))
        # A line longer than one embed continues in the next one: compare with the line breaks left out.
        assert shown.replace("\n", "") == "".join(want).replace("\n", "")
        # Lines that fit are whole lines of the description, each with its own marker: the depth is visible.
        shown_lines = [line for e in embeds for line in discord.unescape(e["description"]).split("\n") if line]
        for line in want:
            if len(line) < 1000:
                assert line in shown_lines


def _rich_items(blocks: list[dict[str, object]]) -> list[tuple[int, str]]:
    items = []
    for block in blocks:
        if block["type"] != "rich_text":
            continue
        for lst in block["elements"]:  # type: ignore[attr-defined]
            for section in lst["elements"]:
                items.append((lst["indent"], "".join(el["text"] for el in section["elements"]).replace(ZWSP, "")))
    return items


@settings(max_examples=40, deadline=None)
@given(nested_digest())
def test_slack_rich_text_lists_keep_every_nested_line_in_order_and_at_its_indent(
    case: tuple[Digest, dict[int, Outline]],
) -> None:
    digest, raw = case
    messages = render_slack(digest)
    for message in messages:
        check_slack_payload(message.payload)
    for entry in digest.entries:
        assert entry.item.id is not None
        blocks = [b for m in messages if m.item_id == entry.item.id for b in m.payload["blocks"]]
        want = expected(raw[entry.item.id])
        items = _rich_items(blocks)
        if not any(depth for depth, _ in want):  # every sub-point cleaned to nothing: flat bullets, no list
            assert not items
            continue
        # Each line is one list item, or (longer than a block's budget) a run of items at its indent that
        # joins back to it; nothing else is in the lists.
        position = 0
        for depth, text in want:
            got = ""
            while got != text:
                assert position < len(items), f"missing: {text[:40]!r}"
                item_depth, piece = items[position]
                assert item_depth == depth
                got += piece
                position += 1
                assert text.startswith(got)
        assert position == len(items)


@settings(max_examples=30, deadline=None)
@given(nested_digest())
def test_markdown_and_console_show_the_nesting_in_order(case: tuple[Digest, dict[int, Outline]]) -> None:
    digest, raw = case
    text = render_markdown(digest, annotate=False)
    console = render_console(digest)
    assert "\x1b" not in console
    for entry in digest.entries:
        assert entry.item.id is not None
        block = text.split(f"]({entry.item.url}) (2024.11.01, 카카오)\n\n", 1)[1].split("\n### ", 1)[0]
        lines = [line for line in block.split("\n") if line.lstrip().startswith("- ")]
        assert lines == [
            f"{'  ' * depth}- {markdown._escape_start(line)}" for depth, line in expected(raw[entry.item.id])
        ]
