"""Property tests: every Discord and Slack payload stays within every limit, and nothing is lost or reordered."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from paperbot.digest.build import build_daily, build_weekly
from paperbot.digest.render import discord, render_console, render_discord, render_markdown, render_slack, slack
from paperbot.digest.render.common import NO_SUMMARY
from paperbot.domain import Digest, Item
from paperbot.untrusted import clean_untrusted
from tests.digest.helpers import check_discord_payload, check_slack_payload, paper, post, summary
from tests.digest.strategies import hostile_text, long_text

DAY = date(2024, 4, 19)


@st.composite
def hostile_digest(draw: st.DrawFn) -> tuple[Digest, list[Item], dict[int, tuple[str, ...]]]:
    count = draw(st.integers(min_value=1, max_value=4))
    items: list[Item] = []
    bullets: dict[int, tuple[str, ...]] = {}
    for index in range(1, count + 1):
        title = draw(st.one_of(hostile_text(8), long_text))
        authors = tuple(draw(st.lists(hostile_text(3), min_size=0, max_size=80)))
        if draw(st.booleans()):
            item = paper(f"2404.{10000 + index}", title=title, authors=authors, upvotes=draw(st.integers(0, 999)))
        else:
            item = post(f"p{index}", title=title)
        items.append(replace(item, id=index))
        bullets[index] = tuple(draw(st.lists(st.one_of(hostile_text(20), long_text), min_size=0, max_size=12)))
    summaries = {i: summary(i, b) for i, b in bullets.items()}
    papers = [i for i in items if i.kind.value == "paper"]
    posts = [i for i in items if i.kind.value == "post"]
    digest = build_daily(DAY, papers, posts, summaries=summaries)
    return digest, items, bullets


def _expected_lines(title: str, bullets: tuple[str, ...]) -> tuple[str, list[str]]:
    lines = [clean_untrusted(b) for b in bullets if clean_untrusted(b)] or [NO_SUMMARY]
    return clean_untrusted(title), [f"• {b}" for b in lines]


@settings(max_examples=60, deadline=None)
@given(hostile_digest())
def test_discord_payloads_within_limits_and_lossless(
    case: tuple[Digest, list[Item], dict[int, tuple[str, ...]]],
) -> None:
    digest, _, bullets = case
    messages = render_discord(digest)
    for message in messages:
        check_discord_payload(message.payload)
    assert messages[0].item_id is None
    order = [m.item_id for m in messages[1:]]
    assert order == sorted(order, key=[e.item.id for e in digest.entries].index)  # items in digest order
    for entry in digest.entries:
        assert entry.item.id is not None
        embeds = [e for m in messages if m.item_id == entry.item.id for e in m.payload["embeds"]]
        title, lines = _expected_lines(entry.item.title, bullets[entry.item.id])
        shown = discord.unescape("".join(e["description"] for e in embeds)).replace("\n", "")
        first_title = discord.unescape(embeds[0]["title"])
        if first_title.endswith("…") and first_title != title:
            lines.insert(0, f"제목: {title}")
        else:
            assert first_title == (title or "(제목 없음)")
        assert shown == "".join(lines).replace("\n", "")


@settings(max_examples=60, deadline=None)
@given(hostile_digest())
def test_slack_payloads_within_limits_validated_and_lossless(
    case: tuple[Digest, list[Item], dict[int, tuple[str, ...]]],
) -> None:
    digest, _, bullets = case
    messages = render_slack(digest)
    for message in messages:
        check_slack_payload(message.payload)
    for entry in digest.entries:
        assert entry.item.id is not None
        blocks = [b for m in messages if m.item_id == entry.item.id for b in m.payload["blocks"]]
        sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
        title, lines = _expected_lines(entry.item.title, bullets[entry.item.id])
        head = sections[0]
        if "…" in head and len(title) > 1000:
            lines.insert(0, f"제목: {title}")
        shown = slack.unescape("".join(sections[1:])).replace("\n", "")
        expected = "".join(lines).replace("\n", "")
        # Look-alikes stand in for mrkdwn markers: compare with the markers mapped the same way.
        assert shown == slack.unescape(slack.escape(expected)).replace("\n", "")


@settings(max_examples=25, deadline=None)
@given(hostile_digest())
def test_markdown_and_console_render_every_item(case: tuple[Digest, list[Item], dict[int, tuple[str, ...]]]) -> None:
    digest, _, _ = case
    markdown = render_markdown(digest)
    console = render_console(digest)
    assert markdown.count("\n### ") == len(digest.entries)
    assert "\x1b" not in console
    for entry in digest.entries:
        assert str(entry.item.url) in markdown


def test_a_huge_summary_continues_in_more_embeds_and_messages() -> None:
    item = paper("2404.00001", item_id=1, upvotes=3)
    bullets = tuple("가나다라마바사 " * 300 + f"끝{i}" for i in range(8))
    digest = build_daily(DAY, [item], summaries={1: summary(1, bullets)})
    messages = render_discord(digest)
    assert len(messages) > 2
    for message in messages:
        check_discord_payload(message.payload)
    assert [m.part for m in messages[1:]] == list(range(len(messages) - 1))
    slack_messages = render_slack(digest)
    for message in slack_messages:
        check_slack_payload(message.payload)
    text = "".join(b["text"]["text"] for m in slack_messages for b in m.payload["blocks"] if b["type"] == "section")
    assert all(f"끝{i}" in text for i in range(8))


def test_many_sections_overflow_into_a_second_slack_message() -> None:
    item = paper("2404.00002", item_id=1)
    bullets = tuple("나" * 2900 for _ in range(60))
    messages = render_slack(build_daily(DAY, [item], summaries={1: summary(1, bullets)}))
    item_messages = [m for m in messages if m.item_id == 1]
    assert len(item_messages) == 2
    for message in item_messages:
        check_slack_payload(message.payload)


def test_weekly_payloads_within_limits() -> None:
    items = [paper(f"2404.{10000 + i}", day=DAY, item_id=i, upvotes=i, title="T" * 250) for i in range(1, 40)]
    digest = build_weekly(DAY, items)
    for message in render_discord(digest):
        check_discord_payload(message.payload)
    for message in render_slack(digest):
        check_slack_payload(message.payload)
