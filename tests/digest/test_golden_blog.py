"""The blog section in the seed's layout (``../shared/seeds/002_*``: ``Title (YYYY.MM.DD, Company)`` then nested
key points), rendered byte for byte from real article pages (issue 17).

Two golden files, reviewed by eye once when written (2026-12-02) against the seed:

- ``golden_blog_offline.md``: real pages (``tests/data/articles``, see SOURCES.md) through the extractor and the
  offline summariser, i.e. the article's own sections with their list items or key sentences quoted under them.
- ``golden_blog_nested.md``: the seed's AWS post answered by a stand-in LLM with the seed's own nested highlights,
  beside a personal blog post (no company: the date alone, as the seed shows Lil'Log posts).

``PAPERBOT_UPDATE_GOLDEN=1`` rewrites them; review the diff by eye before committing it.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

from paperbot.digest.build import build_daily
from paperbot.digest.render.markdown import render_markdown
from paperbot.domain import Article, ArticleStatus, Item, ItemKind, Summary
from paperbot.sources.article import extract_article
from paperbot.summarize.article import attach_article
from paperbot.summarize.offline import OfflineSummarizer
from tests.digest.helpers import DATA

PAGES = Path(__file__).resolve().parent.parent / "data" / "articles"
DAY = date(2024, 11, 28)

# (page, source, company as configured ("" for a personal blog), title, url, published)
REAL = [
    (
        "github.blog.spiceland.html",
        "github_blog",
        "GitHub",
        "Erin Spiceland: Software Engineer for SpaceX",
        "https://github.blog/2019-03-29-leader-spotlight-erin-spiceland/",
        datetime(2019, 3, 29, tzinfo=UTC),
    ),
    (
        "lemire.me.json.html",
        "lemire",
        "",
        "Parsing JSON using SIMD instructions on the Apple A12 processor",
        "https://lemire.me/blog/2019/05/15/parsing-json-using-simd-instructions-on-the-apple-a12-processor/",
        datetime(2019, 5, 15, tzinfo=UTC),
    ),
    (
        "lilianweng_hallucination.html",
        "lilianweng",
        "",
        "Extrinsic Hallucinations in LLMs",
        "https://lilianweng.github.io/posts/2024-07-07-hallucination/",
        datetime(2024, 7, 7, tzinfo=UTC),
    ),
    (
        "blog.python.org.html",
        "python_insider",
        "Python",
        "Python 3.6.0 is now available!",
        "https://blog.python.org/2016/12/python-360-is-now-available.html",
        datetime(2016, 12, 23, tzinfo=UTC),
    ),
]


def _post(index: int, source: str, company: str, title: str, *, url: str, published: datetime) -> Item:
    return Item(
        source=source,
        external_id=url,
        kind=ItemKind.POST,
        title=title,
        url=url,
        day=DAY,
        published_at=published,
        extra={"company": company},
        id=index,
    )


def _check(name: str, text: str) -> None:
    path = DATA / name
    if os.environ.get("PAPERBOT_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_real_pages_render_as_nested_extracts_in_the_seeds_layout() -> None:
    posts, summaries = [], {}
    offline = OfflineSummarizer()
    for index, (page, source, company, title, url, published) in enumerate(REAL, start=1):
        extracted = extract_article((PAGES / page).read_bytes(), content_type="text/html; charset=utf-8")
        assert extracted.reason is None, (page, extracted.reason)
        item = _post(index, source, company, title, url=url, published=published)
        with_article = attach_article(item, Article(index, url, ArticleStatus.OK, extracted.blocks))
        summaries[index] = offline.build(with_article)
        posts.append(item)
    text = render_markdown(build_daily(DAY, [], posts, summaries=summaries), annotate=False)
    _check("golden_blog_offline.md", text)
    assert "### [Erin Spiceland: Software Engineer for SpaceX](https://github.blog/" in text
    assert ") (2019.03.29, GitHub)\n" in text and ") (2024.07.07)\n" in text  # personal blog: the date alone
    assert "\n  - " in text  # nested
    assert "\n  - 표: file: apache\\_builds, simdjson: 2.3 GB/s, JSON for Modern C++: 0.098 GB/s\n" in text  # a table


#: The seed's highlights of this post (its first four points), as a stand-in LLM would answer.
SEED_AWS = (
    (0, "파인튜닝 적합 사례"),
    (1, "분류 작업 (약 10,000개의 레이블된 예제 필요)"),
    (1, "구조화된 출력 생성"),
    (1, "도구 및 API 사용법 학습"),
    (0, "하이퍼파라미터 최적화"),
    (1, "학습률 승수 범위: 0.1-2.0, 기본값: 1.0"),
    (1, "배치 크기 범위: 4-256, 기본값: 32"),
    (0, "성능 평가 결과"),
    (1, "파인튜닝된 Claude 3 Haiku: 91.2% F1 점수"),
    (1, "기본 Claude 3 Haiku 대비 24.6% 향상"),
    (0, "토큰 사용량 개선"),
    (1, "출력 토큰 수 35% 감소"),
    (1, "기본 모델 평균 34 토큰 → 파인튜닝 후 22 토큰"),
)


def test_nested_llm_highlights_render_exactly_as_the_seed() -> None:
    aws = _post(
        1,
        "aws_ml",
        "AWS",
        "Best Practices and Lessons for Fine-Tuning Anthropic’s Claude 3 Haiku on Amazon Bedrock",
        url="https://aws.amazon.com/blogs/machine-learning/best-practices-and-lessons-for-fine-tuning-anthropics-claude-3-haiku-on-amazon-bedrock/",
        published=datetime(2024, 11, 1, 16, tzinfo=UTC),
    )
    kakao = _post(
        2,
        "kakao_tech",
        "카카오",
        "밑바닥부터 Kanana LLM 개발하기: Pre-Training",
        url="https://tech.kakao.com/posts/661",
        published=datetime(2024, 11, 14, tzinfo=UTC),
    )
    personal = _post(
        3,
        "lilianweng",
        "",
        "Reward Hacking in Reinforcement Learning",
        url="https://lilianweng.github.io/posts/2024-11-28-reward-hacking/",
        published=datetime(2024, 11, 28, tzinfo=UTC),
    )

    def made(item_id: int, lines: tuple[tuple[int, str], ...]) -> Summary:
        return Summary(
            item_id=item_id,
            bullets=tuple(text for _, text in lines),
            levels=tuple(depth for depth, _ in lines),
            backend="openai_compat",
            model="stand-in",
            prompt_version="ko-outline-1",
            input_hash=f"h{item_id}",
        )

    summaries = {
        1: made(1, SEED_AWS),
        2: made(2, ((0, "사전 학습 데이터"), (1, "한국어와 영어 데이터 혼합"))),
        3: made(3, ((0, "보상 해킹의 정의"), (1, "강화 학습 에이전트가 보상 함수의 허점을 이용하는 현상"))),
    }
    text = render_markdown(build_daily(DAY, [], [aws, kakao, personal], summaries=summaries), annotate=False)
    _check("golden_blog_nested.md", text)
    # The seed's line format, newest first as in the seed's list
    assert text.index("Reward Hacking in Reinforcement Learning](") < text.index("Kanana") < text.index("Claude 3")
    assert ") (2024.11.01, AWS)\n\n- 파인튜닝 적합 사례\n  - 분류 작업 (약 10,000개의 레이블된 예제 필요)\n" in text
    assert ") (2024.11.14, 카카오)\n" in text and ") (2024.11.28)\n" in text
