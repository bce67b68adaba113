"""Nested highlights of a post with its article (issue 17): the prompt, a stand-in LLM's nested answers, the gate
on every line against the article, the offline outline, and the render of a 12 x 30 answer on Discord and Slack."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from paperbot.digest.build import build_daily
from paperbot.digest.render import discord, render_discord, render_markdown, render_slack
from paperbot.domain import Article, ArticleBlock, ArticleStatus, BlockKind, Item, ItemKind
from paperbot.summarize.article import attach_article
from paperbot.summarize.gate import OUTLINE_RULES, check_outline, parse_outline
from paperbot.summarize.llm import OpenAICompatSummarizer
from paperbot.summarize.offline import OfflineSummarizer, offline_outline
from paperbot.summarize.prompt import OUTLINE_PROMPT_VERSION, OUTLINE_SCHEMA, PROMPT_VERSION
from tests.digest.helpers import check_discord_payload, check_slack_payload
from tests.summarize.conftest import paper
from tests.summarize.fake_llm import FakeLLMServer, Reply, fake_llm, openai_answer

pytestmark = pytest.mark.usefixtures("no_retry_waits")

#: Synthetic: an English article written for this test with the facts of the seed's AWS post (the seed's Korean
#: highlights are what a good answer looks like). The feed's excerpt alone holds none of the numbers.
EXCERPT = "Best practices for fine-tuning Claude 3 Haiku on Amazon Bedrock."
BLOCKS = (
    ArticleBlock(BlockKind.HEADING, "Use cases for fine-tuning", 2),
    ArticleBlock(BlockKind.ITEM, "Classification, with roughly 10,000 labeled examples"),
    ArticleBlock(BlockKind.ITEM, "Structured output generation"),
    ArticleBlock(BlockKind.HEADING, "Hyperparameters", 2),
    ArticleBlock(BlockKind.ROW, "Learning rate multiplier | range 0.1-2.0 | default 1.0"),
    ArticleBlock(BlockKind.ROW, "Batch size | range 4-256 | default 32"),
    ArticleBlock(BlockKind.HEADING, "Results", 2),
    ArticleBlock(
        BlockKind.PARAGRAPH,
        "On the TAT-QA dataset the fine-tuned Claude 3 Haiku reached a 91.2% F1 score, 24.6% better than the base "
        "Claude 3 Haiku. Output tokens fell by 35%, from 34 tokens to 22 tokens on average.",
    ),
)
GOOD_OUTLINE = {
    "highlights": [
        {
            "point": "파인튜닝 적합 사례",
            "details": ["분류 작업 (약 10,000개의 레이블된 예제 필요)", "구조화된 출력 생성"],
        },
        {
            "point": "하이퍼파라미터 최적화",
            "details": ["학습률 승수 범위: 0.1-2.0, 기본값: 1.0", "배치 크기 범위: 4-256, 기본값: 32"],
        },
        {
            "point": "성능 평가 결과",
            "details": ["TAT-QA 데이터셋에서 91.2% F1 점수", "기본 Claude 3 Haiku 대비 24.6% 향상"],
        },
        {"point": "토큰 사용량 개선", "details": ["출력 토큰 수 35% 감소", "평균 34 토큰에서 22 토큰으로"]},
    ]
}


def aws_post(blocks: tuple[ArticleBlock, ...] = BLOCKS, *, title: str | None = None) -> Item:
    item = Item(
        source="aws_ml",
        external_id="claude-haiku",
        kind=ItemKind.POST,
        title=title or "Best Practices and Lessons for Fine-Tuning Anthropic's Claude 3 Haiku on Amazon Bedrock",
        url="https://aws.amazon.com/blogs/machine-learning/claude-haiku/",
        day=date(2024, 11, 1),
        abstract=EXCERPT,
        published_at=datetime(2024, 11, 1, tzinfo=UTC),
        extra={"company": "AWS"},
        id=1,
    )
    return attach_article(item, Article(1, item.url, ArticleStatus.OK, blocks))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def summarizer(http: httpx.AsyncClient, server: FakeLLMServer) -> OpenAICompatSummarizer:
    return OpenAICompatSummarizer(
        http, base_url=f"{server.url}/v1", model="gpt-4o-mini", api_key="k", timeout=2.0, backoff=0.0
    )


def nested_reply(answer: dict[str, Any]) -> Reply:
    return Reply(body=openai_answer(json.dumps(answer, ensure_ascii=False)))


async def test_a_post_with_its_article_gets_nested_highlights_from_the_stand_in_llm(http: httpx.AsyncClient) -> None:
    with fake_llm(lambda body, attempt: nested_reply(GOOD_OUTLINE)) as server:
        summary = await summarizer(http, server).summarize(aws_post())
        request = server.requests[0].body
    assert summary.backend == "openai_compat" and summary.fallback_reason is None
    assert summary.prompt_version == OUTLINE_PROMPT_VERSION
    assert summary.outline[:3] == (
        (0, "파인튜닝 적합 사례"),
        (1, "분류 작업 (약 10,000개의 레이블된 예제 필요)"),
        (1, "구조화된 출력 생성"),
    )
    assert summary.levels.count(0) == 4 and len(summary.bullets) == 12
    assert request["response_format"]["json_schema"]["schema"] == OUTLINE_SCHEMA
    user = request["messages"][-1]["content"]
    assert "<article>\n## Use cases for fine-tuning\n- Classification, with roughly 10,000 labeled examples" in user
    assert "Batch size | range 4-256 | default 32" in user
    assert (
        "제품이나 기능을 알리는 발표" in request["messages"][0]["content"]
        or "연구를 소개하는" in request["messages"][0]["content"]
    )


async def test_a_number_only_the_article_has_passes_and_one_it_lacks_is_repaired_then_falls_back(
    http: httpx.AsyncClient,
) -> None:
    wrong = json.loads(json.dumps(GOOD_OUTLINE))
    wrong["highlights"][2]["details"][0] = "TAT-QA 데이터셋에서 97.5% F1 점수"
    with fake_llm(lambda body, attempt: nested_reply(wrong)) as server:
        summary = await summarizer(http, server).summarize(aws_post())
        repair_turn = server.requests[1].body["messages"][-1]["content"]
    assert len(server.requests) == 2  # the answer, then one repair turn naming the problem
    assert "97.5" in repair_turn
    assert summary.backend == "offline" and summary.fallback_reason is not None
    assert "number" in summary.fallback_reason
    assert 1 in summary.levels  # the fallback is the article's own nested extract, not a flat teaser
    # the same lines pass when only the excerpt is missing the fact: it is the article that holds 91.2
    assert check_outline(
        [
            (depth, text)
            for entry in GOOD_OUTLINE["highlights"]
            for depth, text in [(0, entry["point"])] + [(1, d) for d in entry["details"]]
        ],
        title=aws_post().title,
        abstract=EXCERPT + "\n" + "\n".join(block.text for block in BLOCKS),
    ).ok
    assert not check_outline([(0, "성능 평가 결과"), (1, "91.2% F1 점수")] * 2, title="t", abstract=EXCERPT).ok


def test_papers_and_posts_without_an_article_keep_flat_bullets() -> None:
    from paperbot.summarize.prompt import prompt_version_for

    assert prompt_version_for(paper()) == PROMPT_VERSION
    plain = Item("aws_ml", "x", ItemKind.POST, "A post", "https://example.com/x", date(2024, 11, 1), abstract=EXCERPT)
    assert prompt_version_for(plain) == PROMPT_VERSION
    assert offline_outline(plain) is None


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"highlights": [{"point": "가", "details": ["나", "다"]}]}, [(0, "가"), (1, "나"), (1, "다")]),
        ('```json\n{"highlights": [{"text": "가", "points": []}, "라"]}\n```', [(0, "가"), (0, "라")]),
        ({"bullets": ["가", "나"]}, [(0, "가"), (0, "나")]),
        ({"highlights": [{"point": "가", "details": [{"deep": "x"}]}]}, None),
        ("not json", None),
        ({"highlights": []}, None),
    ],
)
def test_parse_outline_is_lenient_about_shape_but_never_guesses(answer: Any, expected: Any) -> None:
    assert parse_outline(answer) == expected


def test_the_gate_bounds_the_shape() -> None:
    source = "numbers 1 2 3"
    ok = [(0, "첫 주제"), (1, "세부 가"), (0, "둘째 주제"), (0, "셋째 주제")]
    assert check_outline(ok, title="t", abstract=source).ok
    assert "shape" in check_outline([(1, "하위부터"), *ok], title="t", abstract=source).problems
    assert "shape" in check_outline([*ok, (2, "셋째 단계")], title="t", abstract=source).problems
    many_subs = [(0, "주제")] + [(1, f"세부 {'가나다라마바사'[i]}") for i in range(7)] + ok[2:]
    assert any(p.startswith("sub_count") for p in check_outline(many_subs, title="t", abstract=source).problems)
    tops = [(0, f"주제 {'가나다라마바사아자차카타파'[i]}") for i in range(13)]
    assert "bullet_count:13" in check_outline(tops, title="t", abstract=source).problems


def test_the_offline_outline_follows_the_article_and_quotes_only_it() -> None:
    lines = offline_outline(aws_post())
    assert lines is not None
    assert lines[0][0] == 0 and "발췌" in lines[0][1]
    tops = [text for depth, text in lines if depth == 0]
    assert "“Use cases for fine-tuning” 절" in tops and "“Results” 절" in tops
    assert (1, "목록: “Classification, with roughly 10,000 labeled examples”") in lines
    facts = EXCERPT + " " + " ".join(block.text for block in BLOCKS)
    for _, text in lines:
        if "“" in text:
            quoted = text.split("“", 1)[1].rsplit("”", 1)[0].removesuffix("…")
            assert quoted in facts  # verbatim: nothing but the article's words
    assert check_outline(
        lines,
        title=aws_post().title,
        abstract=facts,
        rules=OUTLINE_RULES.__class__(
            min_bullets=1,
            max_bullets=12,
            min_chars=2,
            max_chars=400,
            min_hangul_share=0.0,
            english_allowed=True,
            sentence_endings=False,
        ),
    ).ok
    summary = OfflineSummarizer().build(aws_post())
    assert summary.levels == tuple(depth for depth, _ in lines)


def _syllables(rng: random.Random, count: int) -> str:
    """Hangul syllables picked at random: lines that share no phrase, so none is a duplicate of another."""
    return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(count))


def big_answer() -> dict[str, Any]:
    rng = random.Random(17)
    highlights = []
    subs = [3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2]  # 30 sub-points under 12 points
    for count in subs:
        highlights.append({"point": _syllables(rng, 20), "details": [_syllables(rng, 280) for _ in range(count)]})
    return {"highlights": highlights}


async def test_twelve_points_and_thirty_sub_points_render_within_every_limit_without_losing_one(
    http: httpx.AsyncClient,
) -> None:
    answer = big_answer()
    with fake_llm(lambda body, attempt: nested_reply(answer)) as server:
        summary = await summarizer(http, server).summarize(aws_post())
    assert summary.fallback_reason is None, summary.fallback_reason
    assert (summary.levels.count(0), summary.levels.count(1)) == (12, 30)
    expected = [
        (0 if i == 0 else 1, text)
        for entry in answer["highlights"]
        for i, text in enumerate([entry["point"], *entry["details"]])
    ]
    assert list(summary.outline) == expected
    digest = build_daily(date(2024, 11, 1), [], [aws_post()], summaries={1: summary})

    messages = [m for m in render_discord(digest) if m.item_id == 1]
    for message in messages:
        check_discord_payload(message.payload)
    assert len(messages) >= 2  # 42 lines, 30 of 280 characters: more than one message's 6000
    description = "\n".join(e["description"] for m in messages for e in m.payload["embeds"])
    shown = [line for line in discord.unescape(description).split("\n") if line]
    assert shown == [f"{discord.SUB_INDENT}◦ {text}" if depth else f"• {text}" for depth, text in expected]

    slack_messages = [m for m in render_slack(digest) if m.item_id == 1]
    for message in slack_messages:
        check_slack_payload(message.payload)
    rich = [b for m in slack_messages for b in m.payload["blocks"] if b["type"] == "rich_text"]
    assert len(rich) >= 2  # split under the per-block text budget
    listed = [
        (lst["indent"], section["elements"][0]["text"])
        for block in rich
        for lst in block["elements"]
        for section in lst["elements"]
    ]
    assert listed == expected

    markdown = render_markdown(digest, annotate=False)
    for depth, text in expected:
        assert f"\n{'  ' * depth}- {text}\n" in markdown


PRODUCT_BLOCKS = (
    ArticleBlock(BlockKind.PARAGRAPH, "Today we are launching Acme Voice, a speech API for call centers."),
    ArticleBlock(BlockKind.HEADING, "What it does", 2),
    ArticleBlock(BlockKind.PARAGRAPH, "Acme Voice transcribes calls in 12 languages with speaker labels."),
    ArticleBlock(BlockKind.HEADING, "Availability", 2),
    ArticleBlock(
        BlockKind.PARAGRAPH,
        "Acme Voice is available today in the US and EU regions. Pricing starts at $0.006 per minute for "
        "enterprise customers.",
    ),
)


def product_post() -> Item:
    item = Item(
        source="acme",
        external_id="voice",
        kind=ItemKind.POST,
        title="Introducing Acme Voice: now available in the API",
        url="https://example.com/blog/voice",
        day=date(2024, 11, 1),
        abstract="Today we're launching Acme Voice for developers and enterprise customers.",
        id=2,
    )
    return attach_article(item, Article(2, item.url, ArticleStatus.OK, PRODUCT_BLOCKS))


async def test_the_classifier_picks_the_frame_of_the_prompt(http: httpx.AsyncClient) -> None:
    from paperbot.summarize.posts import PostKind, classify_post

    research = replace(aws_post(), title="A study of fine-tuning: experiments and results on TAT-QA")
    assert classify_post(product_post()) is PostKind.PRODUCT and classify_post(research) is PostKind.RESEARCH
    with fake_llm(lambda body, attempt: nested_reply(GOOD_OUTLINE)) as server:
        await summarizer(http, server).summarize(product_post())
        await summarizer(http, server).summarize(research)
        systems = [request.body["messages"][0]["content"] for request in server.requests]
    product_system, research_system = systems[0], systems[-1]
    assert "제품이나 기능을 알리는 발표" in product_system and "가격" in product_system
    assert "연구를 소개하는" in research_system and "결과(측정한 숫자 그대로)" in research_system
    assert "가격" not in research_system.split("규칙:")[0]


def test_the_offline_outline_follows_the_same_frame() -> None:
    product = offline_outline(product_post())
    assert product is not None
    assert product[0] == (0, "새 제품이나 기능을 알리는 발표 글입니다 (본문의 구성을 그대로 옮긴 발췌).")
    assert (0, "“Availability” 절") in product
    assert any("$0.006 per minute" in text for depth, text in product if depth == 1)
    research = offline_outline(aws_post())
    assert research is not None
    assert research[0] == (0, "연구 내용을 소개하는 글입니다 (본문의 구성을 그대로 옮긴 발췌).")
    assert any("91.2% F1" in text for depth, text in research if depth == 1)


def test_a_table_under_a_section_is_quoted_cell_by_cell_with_its_header() -> None:
    blocks = (
        ArticleBlock(BlockKind.HEADING, "Results", 2),
        ArticleBlock(BlockKind.PARAGRAPH, "We measured the parsing speed of both libraries on real files."),
        ArticleBlock(BlockKind.ROW, "file | simdjson | JSON for Modern C++"),
        ArticleBlock(BlockKind.ROW, "apache_builds | 2.3 GB/s | 0.098 GB/s"),
        ArticleBlock(BlockKind.ROW, "github_events | 2.5 GB/s | 0.093 GB/s"),
        ArticleBlock(BlockKind.ROW, "twitter | 2.4 GB/s | 0.1 GB/s"),
    )
    lines = offline_outline(aws_post(blocks, title="A study of JSON parsing speed"))
    assert lines is not None
    rows = [text for depth, text in lines if text.startswith("표: ")]
    assert rows == [
        "표: file: apache_builds, simdjson: 2.3 GB/s, JSON for Modern C++: 0.098 GB/s",
        "표: file: github_events, simdjson: 2.5 GB/s, JSON for Modern C++: 0.093 GB/s",
    ]  # two rows at most, every cell as the article has it, never the extractor's " | "
    assert lines.index((1, rows[0])) > lines.index((0, "“Results” 절"))
