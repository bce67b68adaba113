"""The article repository (issue 17) and nested summary levels, on memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paperbot.domain import Article, ArticleBlock, ArticleStatus, BlockKind, Item, ItemKind, Summary
from paperbot.errors import StoreError
from paperbot.ports import Repository

DAY = date(2024, 11, 1)
FETCHED = datetime(2024, 11, 2, 3, 4, 5, tzinfo=UTC)


def post(external_id: str = "https://aws.amazon.com/blogs/machine-learning/claude-haiku") -> Item:
    return Item(
        source="aws_ml",
        external_id=external_id,
        kind=ItemKind.POST,
        title="Best Practices and Lessons for Fine-Tuning Anthropic's Claude 3 Haiku on Amazon Bedrock",
        url=external_id,
        day=DAY,
        abstract="Fine-tuning Claude 3 Haiku on Amazon Bedrock.",
    )


BLOCKS = (
    ArticleBlock(BlockKind.HEADING, "Use cases for fine-tuning", 2),
    ArticleBlock(BlockKind.ITEM, "Classification (about 10,000 labeled examples)", 0),
    ArticleBlock(BlockKind.ITEM, "Nested: 한국어 항목 😀", 1),
    ArticleBlock(BlockKind.ROW, "Learning rate multiplier | 0.1-2.0 | 1.0"),
    ArticleBlock(BlockKind.PARAGRAPH, "Fine-tuned Claude 3 Haiku reached 91.2% F1 on TAT-QA."),
)


async def test_article_round_trips_every_field(repository: Repository) -> None:
    item = (await repository.add_item(post())).value
    assert item.id is not None
    article = Article(
        item_id=item.id,
        url=item.url,
        status=ArticleStatus.OK,
        blocks=BLOCKS,
        extractor="trafilatura 2.3.1",
        etag='W/"abc"',
        last_modified="Sat, 02 Nov 2024 03:04:05 GMT",
        fetched_at=FETCHED,
    )
    await repository.save_article(article)
    assert await repository.get_articles([item.id]) == {item.id: article}


async def test_a_refetch_replaces_the_article_and_a_fallback_keeps_its_reason(repository: Repository) -> None:
    item = (await repository.add_item(post())).value
    assert item.id is not None
    first = Article(item.id, item.url, ArticleStatus.FALLBACK, reason="paywalled_or_forbidden(HTTP 403)")
    await repository.save_article(first)
    stored = (await repository.get_articles([item.id]))[item.id]
    assert stored.status is ArticleStatus.FALLBACK and stored.reason == "paywalled_or_forbidden(HTTP 403)"
    assert stored.blocks == () and stored.fetched_at is not None  # the time of the try is always recorded
    await repository.save_article(Article(item.id, item.url, ArticleStatus.OK, BLOCKS, fetched_at=FETCHED))
    again = await repository.get_articles([item.id, item.id, 999_999])
    assert list(again) == [item.id]
    assert again[item.id].usable and again[item.id].reason is None and again[item.id].blocks == BLOCKS


async def test_nul_and_long_validators_are_stored_safely(repository: Repository) -> None:
    item = (await repository.add_item(post())).value
    assert item.id is not None
    article = Article(
        item.id,
        item.url,
        ArticleStatus.OK,
        (ArticleBlock(BlockKind.PARAGRAPH, "a\x00b"),),
        etag="e" * 900,
        fetched_at=FETCHED,
    )
    await repository.save_article(article)
    stored = (await repository.get_articles([item.id]))[item.id]
    assert stored.blocks[0].text == "a\ufffdb"
    assert stored.etag == "e" * 500


async def test_an_article_needs_its_item(repository: Repository) -> None:
    with pytest.raises(StoreError):
        await repository.save_article(Article(424242, "https://example.com/x", ArticleStatus.OK, BLOCKS))


async def test_summary_levels_round_trip_and_default_to_flat(repository: Repository) -> None:
    item = (await repository.add_item(post())).value
    assert item.id is not None
    nested = Summary(
        item_id=item.id,
        bullets=("파인튜닝 적합 사례", "분류 작업 (약 10,000개의 레이블된 예제 필요)", "성능 평가 결과"),
        levels=(0, 1, 0),
        backend="openai_compat",
        model="m",
        prompt_version="ko-outline-1",
        input_hash="h" * 64,
    )
    flat = Summary(
        item_id=item.id,
        bullets=("첫째입니다.",),
        backend="offline",
        model="offline",
        prompt_version="p",
        input_hash="x",
    )
    await repository.add_summary(nested)
    await repository.add_summary(flat)
    found = await repository.find_summary(item.id, "h" * 64, "ko-outline-1", "m")
    assert found is not None and found.levels == (0, 1, 0)
    assert [depth for depth, _ in found.outline] == [0, 1, 0]
    plain = await repository.find_summary(item.id, "x", "p", "offline")
    assert plain is not None and plain.levels == ()
    listed = await repository.items_with_summaries([item.id])
    assert listed[item.id][1] is not None
