"""The search use case: results with summaries and votes, limits, empty input; what platforms will call."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from paperbot import korean
from paperbot.domain import SearchHit, SearchMatch, Vote
from paperbot.ports import Repository
from paperbot.service import search as service_search
from paperbot.service.search import MAX_LIMIT, NO_QUERY, NO_RESULTS, clamp_limit, search, search_within, warm_up
from tests.search.corpus import load_corpus


@pytest.mark.usefixtures("kiwi_search")  # Kiwi splits 연합학습 into 연합 + 학습: every query token matches (tier "all")
async def test_results_carry_summary_votes_and_links(repository: Repository) -> None:
    ids = await load_corpus(repository)
    target = ids["2503.11514"]
    for n, channel in enumerate(("c1", "c1", "c2")):
        await repository.add_vote(_vote(n, channel, target))
    outcome = await search(repository, "연합학습 공격", limit=3)
    assert outcome.notice is None
    first = outcome.results[0]
    assert first.item.id == target
    assert first.match is SearchMatch.ALL
    assert first.first_bullet == "연합 학습에서 공유된 기울기로 개인 데이터를 복원하는 기울기 역전 공격을 분석합니다."
    assert first.hf_upvotes == first.item.upvotes > 0
    assert first.team_votes == 3
    in_channel = await search(repository, "연합학습 공격", limit=1, channel_id="c2")
    assert in_channel.results[0].team_votes == 1
    data = first.as_dict()
    assert data["url"] == "https://huggingface.co/papers/2503.11514"
    assert data["day"] == "2025-03-17"
    assert data["match"] == "all"


def _vote(n: int, channel: str, item_id: int) -> Vote:
    return Vote(
        platform="discord",
        message_id=f"m{n}",
        voter_hash=f"v{n}",
        emoji="👍",
        value=1,
        channel_id=channel,
        item_id=item_id,
    )


async def test_items_without_summary_have_no_bullet(repository: Repository) -> None:
    await load_corpus(repository)
    # 2406.06592 is in the fixture day but has no Korean summary in the test data.
    outcome = await search(repository, "Improve Mathematical Reasoning automated process supervision", limit=1)
    assert outcome.results[0].item.external_id == "2406.06592"
    assert outcome.results[0].summary is None
    assert outcome.results[0].first_bullet is None


async def test_empty_and_unmatched_queries_give_a_notice(repository: Repository) -> None:
    await load_corpus(repository)
    assert (await search(repository, "   ")).notice == NO_QUERY
    unmatched = await search(repository, "qqqzzzxxx")
    assert unmatched.results == ()
    assert unmatched.notice == NO_RESULTS


def test_limit_is_clamped() -> None:
    assert clamp_limit(None) == 10
    assert clamp_limit(0) == 1
    assert clamp_limit(-5) == 1
    assert clamp_limit(1000) == MAX_LIMIT


@pytest.mark.usefixtures("kiwi_search")
async def test_warm_up_loads_and_names_the_analyser() -> None:
    assert await warm_up() == "kiwi"
    assert korean._get_kiwi.cache_info().currsize == 1  # loaded now, not on the first Korean query
    assert korean.ready()  # the model too: the warm-up analysed a sentence (Kiwi() alone loads it lazily)


class _SlowRepository:
    """A repository whose search waits for the test, as one that is still loading Kiwi for the query."""

    def __init__(self, inner: Repository) -> None:
        self.inner = inner
        self.release = asyncio.Event()

    async def search_items(self, query: str, **kwargs: Any) -> list[SearchHit]:
        await self.release.wait()
        return await self.inner.search_items(query, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_search_within_answers_in_time_and_finishes_late_searches_in_the_background(
    repository: Repository,
) -> None:
    await load_corpus(repository)
    found = await search_within(repository, "state space models", 5.0, limit=3)
    assert found is not None
    assert found.results
    slow = _SlowRepository(repository)
    assert await search_within(cast(Repository, slow), "state space models", 0.05, limit=3) is None
    slow.release.set()
    for _ in range(100):  # the late search is not cancelled: it completes once the repository answers
        if not service_search._background:
            break
        await asyncio.sleep(0.01)
    assert not service_search._background
