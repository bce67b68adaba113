"""Building digests: ranking, cuts, filters, reasons, topics, posts window, weekly grouping, empty days."""

from __future__ import annotations

from datetime import UTC, date, datetime

from paperbot.digest.build import build_daily, build_weekly
from paperbot.digest.days import covered_day
from paperbot.digest.ranking import RankingPolicy
from paperbot.digest.render import discord, render_console, render_discord, render_markdown, render_slack
from paperbot.digest.topics import TOPICS, assign_topics
from paperbot.domain import ChannelFilters, DigestKind
from tests.digest.helpers import paper, post, summary

DAY = date(2024, 4, 19)  # a Friday


def test_team_votes_outrank_hf_upvotes_by_the_configured_weight() -> None:
    a = paper("2404.00001", item_id=1, upvotes=10)
    b = paper("2404.00002", item_id=2, upvotes=5)
    digest = build_daily(DAY, [a, b], team_votes={2: 2})  # 5 + 3*2 = 11 > 10
    assert [e.item.id for e in digest.entries] == [2, 1]
    assert digest.entries[0].team_votes == 2 and digest.entries[0].score == 11.0
    assert "팀 투표 +2" in digest.entries[0].reason
    flat = build_daily(DAY, [a, b], team_votes={2: 2}, policy=RankingPolicy(channel_vote_weight=1.0))
    assert [e.item.id for e in flat.entries] == [1, 2]


def test_top_n_and_threshold_cut_but_pinned_authors_always_stay() -> None:
    papers = [paper(f"2404.{i:05d}", item_id=i, upvotes=100 - i) for i in range(1, 31)]
    pinned = paper("2404.99999", item_id=99, upvotes=0, authors=("Yann LeCun",))
    digest = build_daily(
        DAY, [*papers, pinned], policy=RankingPolicy(top_n=5), filters=ChannelFilters(authors=("yann lecun",))
    )
    assert [e.item.id for e in digest.entries] == [1, 2, 3, 4, 5, 99]
    assert digest.entries[-1].rank == 6
    assert "관심 저자 Yann LeCun" in digest.entries[-1].reason
    assert "31편 중 31위" in digest.entries[-1].reason
    threshold = build_daily(DAY, papers, policy=RankingPolicy(top_n=None, min_score=95))
    assert [e.item.upvotes for e in threshold.entries] == [99, 98, 97, 96, 95]


def test_default_policy_is_top_ten() -> None:
    papers = [paper(f"2404.{i:05d}", item_id=i, upvotes=i) for i in range(1, 40)]
    assert len(build_daily(DAY, papers).entries) == 10


def test_channel_filters_keywords_exclude_topics_sources_and_min_upvotes() -> None:
    diffusion = paper("2404.00001", item_id=1, upvotes=9, title="Latent Diffusion for Video Generation")
    rag = paper("2404.00002", item_id=2, upvotes=8, title="Retrieval-Augmented Generation at Scale")
    weak = paper("2404.00003", item_id=3, upvotes=1, title="A diffusion study")
    other = paper("2404.00004", item_id=4, upvotes=7, title="Graph coloring", source="arxiv")
    items = [diffusion, rag, weak, other]
    by_keyword = build_daily(DAY, items, filters=ChannelFilters(keywords=("diffusion",)))
    assert [e.item.id for e in by_keyword.entries] == [1, 3]
    assert "키워드 'diffusion'" in by_keyword.entries[0].reason
    assert [e.item.id for e in build_daily(DAY, items, filters=ChannelFilters(exclude=("diffusion",))).entries] == [
        2,
        4,
    ]
    assert [e.item.id for e in build_daily(DAY, items, filters=ChannelFilters(topics=("methods",))).entries] == [2]
    assert [e.item.id for e in build_daily(DAY, items, filters=ChannelFilters(sources=("arxiv",))).entries] == [4]
    assert [e.item.id for e in build_daily(DAY, items, filters=ChannelFilters(min_upvotes=5)).entries] == [1, 2, 4]
    # "rag" is a word, not a substring of "storage"
    storage = paper("2404.00005", item_id=5, title="Cheap storage for checkpoints")
    assert not build_daily(DAY, [storage], filters=ChannelFilters(keywords=("rag",))).entries


def test_topics_follow_the_taxonomy_deterministically() -> None:
    assert assign_topics("Reka Core: A Series of Powerful Multimodal Language Models") == ("Multimodal", "LLMs")
    assert assign_topics("AniClipart: Clipart Animation with Text-to-Video Priors") == ("Diffusion",)
    assert assign_topics("Introducing v0.5 of the AI Safety Benchmark from MLCommons")[0] == "Red Teaming"
    assert assign_topics("TriForce: Lossless Acceleration with Hierarchical Speculative Decoding") == ("Methods",)
    assert set(assign_topics("QLoRA: 4-bit quantization meets LoRA")) == {"Fine-Tuning", "Quantization"}
    assert assign_topics("A Survey on LLMs for Recommendation", "", ["recommender system"])[0] == "Recommendation"
    assert assign_topics("Chain-of-Thought Prompting Elicits Reasoning")[0] == "Prompting"
    assert assign_topics("Protein folding with graphs") == ("Other",)
    assert assign_topics("anything", llm_topics=["multi modal", "bogus", "LLMs"]) == ("Multimodal", "LLMs")
    assert set(TOPICS) >= {"Red Teaming", "Prompting", "Fine-Tuning", "Quantization", "Other"}


def test_posts_follow_papers_newest_first_and_backlog_is_skipped() -> None:
    a = paper("2404.00001", item_id=1, upvotes=1)
    old = post("p1", item_id=2, published_at=datetime(2024, 4, 19, 8, tzinfo=UTC))
    new = post("p2", item_id=3, published_at=datetime(2024, 4, 19, 20, tzinfo=UTC))
    backlog = post("p3", item_id=4, extra={"backlog": True})
    digest = build_daily(DAY, [a], [old, new, backlog])
    assert [s.title for s in digest.sections] == ["Daily Papers", "블로그 새 글"]
    assert [e.item.id for e in digest.sections[1].entries] == [3, 2]
    markdown = render_markdown(digest, annotate=False)
    assert (
        "## 블로그 새 글\n\n### [Post p2](https://example.com/blog/p2) (2024.04.19, openai)\n\n- 요약이 아직 없습니다.\n"
        in markdown
    )


def test_a_posts_only_digest_shows_no_papers_section_in_any_render() -> None:
    """No paper that day, two posts: no render shows an empty "Daily Papers" section or counts 0 papers; the posts
    section's title heads the digest instead (the markdown once printed "## Daily Papers" then "## 블로그 새 글")."""
    posts = [post("p1", item_id=1), post("p2", item_id=2, published_at=datetime(2024, 4, 19, 20, tzinfo=UTC))]
    digest = build_daily(DAY, [], posts)
    assert [s.title for s in digest.sections] == ["블로그 새 글"]  # build_daily adds no empty papers section
    markdown = render_markdown(digest, annotate=False)
    assert markdown.startswith("## 블로그 새 글 (2024-04-19)\n\n### [Post p2](https://example.com/blog/p2) (2024.04.19")
    assert "Daily Papers" not in markdown and markdown.count("## 블로그 새 글") == 1
    header = discord.unescape(render_discord(digest)[0].payload["content"])
    assert header.startswith("📚 **블로그 새 글 (2024-04-19)**\n블로그 새 글 2편\n글마다 👍 / 👎")
    assert "Daily Papers" not in header and "논문" not in header
    slack_header = render_slack(digest)[0].payload
    assert slack_header["blocks"][0]["text"]["text"] == "📚 블로그 새 글 (2024-04-19)"
    assert slack_header["blocks"][1]["text"]["text"].startswith("블로그 새 글 2편\n")
    assert "Daily Papers" not in str(slack_header) and "논문" not in str(slack_header)
    console = render_console(digest)
    assert console.startswith("📚 블로그 새 글 (2024-04-19)\n블로그 새 글 2편\n") and "Daily Papers" not in console
    # Papers the channel's filters all left out: the same (the header says what is shown).
    filtered = build_daily(DAY, [paper("2404.00001", item_id=3)], posts, filters=ChannelFilters(sources=("openai",)))
    assert not any(e.item.id == 3 for e in filtered.entries)
    assert render_markdown(filtered, annotate=False).startswith("## 블로그 새 글 (2024-04-19)\n\n### [")
    # With a paper the layout is unchanged: the papers under the title line, then the posts' own heading.
    mixed = render_markdown(build_daily(DAY, [paper("2404.00001", item_id=3)], posts), annotate=False)
    assert (
        mixed.startswith("## Daily Papers (2024-04-19)\n\n### [Paper 2404.00001]") and "\n## 블로그 새 글\n\n" in mixed
    )
    assert "논문 1편 · 블로그 새 글 2편" in render_console(build_daily(DAY, [paper("2404.00001", item_id=3)], posts))


def test_already_posted_items_are_left_out() -> None:
    a = paper("2404.00001", item_id=1, upvotes=1)
    b = paper("2404.00002", item_id=2, upvotes=2)
    digest = build_daily(DAY, [a, b], exclude_item_ids={2})
    assert [e.item.id for e in digest.entries] == [1]
    everything_sent = build_daily(DAY, [a, b], exclude_item_ids={1, 2})
    assert everything_sent.is_empty
    assert "이미 보냈거나" in (everything_sent.empty_reason or "")


def test_nothing_to_show_is_one_line_in_every_target() -> None:
    saturday = date(2024, 4, 20)
    digest = build_daily(saturday, [])
    assert digest.is_empty and "주말" in (digest.empty_reason or "")
    assert render_markdown(digest) == f"## Daily Papers (2024-04-20)\n\n{digest.empty_reason}\n"
    header = render_discord(digest)
    assert len(header) == 1 and digest.empty_reason in discord.unescape(header[0].payload["content"])
    slack_messages = render_slack(digest)
    assert len(slack_messages) == 1 and "주말" in slack_messages[0].payload["blocks"][1]["text"]["text"]
    assert render_console(digest).count("\n") == 2
    weekday = build_daily(date(2024, 4, 18), [])
    assert "휴일" in (weekday.empty_reason or "")


def test_offline_summaries_are_said_plainly() -> None:
    a = paper("2404.00001", item_id=1)
    b = paper("2404.00002", item_id=2)
    offline = build_daily(DAY, [a], summaries={1: summary(1, ("요약",), backend="offline")})
    assert offline.offline
    assert "> 요약은 LLM 없이 오프라인 모드로 만들었습니다" in render_markdown(offline)
    assert "오프라인 모드" in render_discord(offline)[0].payload["content"]
    mixed = build_daily(DAY, [a, b], summaries={1: summary(1, ("요약",), backend="offline"), 2: summary(2, ("요약",))})
    assert "요약 2개 중 1개는" in render_console(mixed)
    assert not build_daily(DAY, [a], summaries={1: summary(1, ("요약",))}).offline


def test_weekly_groups_the_best_papers_by_topic_with_most_voted_posts() -> None:
    papers = [
        paper(
            "2404.00001", day=date(2024, 4, 15), item_id=1, upvotes=50, title="Diffusion models for video generation"
        ),
        paper("2404.00002", day=date(2024, 4, 16), item_id=2, upvotes=40, title="Jailbreak attacks on LLMs"),
        paper("2404.00003", day=date(2024, 4, 17), item_id=3, upvotes=30, title="Image generation with diffusion"),
        paper("2404.00004", day=date(2024, 4, 1), item_id=4, upvotes=999, title="Outside the week"),
    ]
    posts = [post("p1", item_id=5, day=date(2024, 4, 14)), post("p2", item_id=6, day=date(2024, 4, 18))]
    digest = build_weekly(DAY, papers, posts, team_votes={5: 4})
    assert digest.kind is DigestKind.WEEKLY and digest.start_day == date(2024, 4, 13)
    assert [s.title for s in digest.sections] == ["Red Teaming", "Diffusion", "이번 주 블로그"]
    assert [e.item.id for e in digest.sections[1].entries] == [1, 3]
    assert [e.item.id for e in digest.sections[2].entries] == [5, 6]
    markdown = render_markdown(digest)
    assert markdown.startswith("## Weekly Best Papers (2024-04-13 ~ 2024-04-19)\n\n### Red Teaming\n\n2. [Jailbreak")
    assert build_weekly(DAY, []).empty_reason == "2024-04-13 ~ 2024-04-19 주간에는 모인 논문과 블로그 글이 없습니다."


def test_covered_day_is_the_hf_day_that_ended_before_the_morning_in_seoul() -> None:
    assert covered_day(datetime(2024, 4, 20, 0, 0, tzinfo=UTC)) == DAY  # 09:00 KST on the 20th
    assert covered_day(datetime(2024, 4, 19, 14, 59, tzinfo=UTC)) == date(2024, 4, 18)  # 23:59 KST on the 19th
