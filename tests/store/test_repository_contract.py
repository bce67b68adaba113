"""One contract for every Repository implementation: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from paperbot.domain import (
    ChannelFilters,
    Delivery,
    DeliveryState,
    DigestKind,
    Item,
    ItemKind,
    LlmUsage,
    RunStatus,
    SourceState,
    Subscription,
    Summary,
    Vote,
)
from paperbot.errors import StoreError
from paperbot.ports import Repository

DAY = date(2025, 3, 17)


def paper(external_id: str = "2503.00001", *, day: date = DAY, upvotes: int = 3, title: str = "A paper") -> Item:
    return Item(
        source="hf_daily",
        external_id=external_id,
        kind=ItemKind.PAPER,
        title=title,
        url=f"https://arxiv.org/abs/{external_id}",
        day=day,
        authors=("Zoe Zhang", "Adam Alpha", "민지 김"),
        abstract="We study things.",
        thumbnail_url=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{external_id}.png",
        upvotes=upvotes,
        upvotes_captured_at=datetime(2025, 3, 17, 3, 0, tzinfo=UTC),
        extra={"ai_keywords": ["LLM", "강화학습"], "github_stars": 12},
    )


def summary_for(item_id: int, *, model: str = "offline", prompt_version: str = "p1") -> Summary:
    return Summary(
        item_id=item_id,
        bullets=("첫째 요점입니다.", "둘째 요점입니다.", "셋째 요점입니다."),
        backend="offline",
        model=model,
        prompt_version=prompt_version,
        input_hash="h" * 64,
        tokens_in=10,
        tokens_out=20,
        cost_usd=0.001,
    )


async def test_add_item_round_trips_every_field(repository: Repository) -> None:
    stored = await repository.add_item(paper())
    assert stored.created
    assert stored.value.id is not None
    again = await repository.get_item(stored.value.id)
    assert again == paper()
    assert again is not None
    assert again.authors == ("Zoe Zhang", "Adam Alpha", "민지 김")  # order kept
    assert again.extra == {"ai_keywords": ["LLM", "강화학습"], "github_stars": 12}
    assert again.upvotes_captured_at == datetime(2025, 3, 17, 3, 0, tzinfo=UTC)
    assert await repository.find_item("hf_daily", "2503.00001") == again


async def test_duplicate_item_returns_existing_row_not_an_error(repository: Repository) -> None:
    first = await repository.add_item(paper(title="Original"))
    second = await repository.add_item(paper(title="Changed"))
    assert first.created and not second.created
    assert second.value.id == first.value.id
    assert second.value.title == "Original"
    # Same external id from another source is another item.
    other = await repository.add_item(
        Item(source="arxiv", external_id="2503.00001", kind=ItemKind.PAPER, title="x", url="u", day=DAY)
    )
    assert other.created


async def test_concurrent_writers_on_the_same_item_get_one_winner(repository: Repository) -> None:
    results = await asyncio.gather(*(repository.add_item(paper()) for _ in range(8)))
    assert sum(result.created for result in results) == 1
    assert len({result.value.id for result in results}) == 1
    assert len(await repository.list_items()) == 1


async def test_list_items_filters_and_orders(repository: Repository) -> None:
    await repository.add_items(
        [
            paper("a", upvotes=1),
            paper("b", upvotes=9),
            paper("c", day=DAY - timedelta(days=1), upvotes=50),
            Item(source="openai", external_id="post-1", kind=ItemKind.POST, title="p", url="u", day=DAY),
        ]
    )
    assert [i.external_id for i in await repository.list_items()] == ["b", "a", "post-1", "c"]
    same_day = await repository.list_items(day_from=DAY, day_to=DAY, kind=ItemKind.PAPER)
    assert [i.external_id for i in same_day] == ["b", "a"]
    assert [i.external_id for i in await repository.list_items(sources=["openai"])] == ["post-1"]
    assert [i.external_id for i in await repository.list_items(day_to=DAY - timedelta(days=1))] == ["c"]


async def test_update_upvotes_keeps_capture_time(repository: Repository) -> None:
    stored = (await repository.add_item(paper())).value
    assert stored.id is not None
    later = datetime(2025, 3, 19, 12, 0, tzinfo=UTC)
    await repository.update_upvotes(stored.id, 120, later)
    refreshed = await repository.get_item(stored.id)
    assert refreshed is not None
    assert (refreshed.upvotes, refreshed.upvotes_captured_at) == (120, later)


async def test_summary_cache_key_is_unique(repository: Repository) -> None:
    item = (await repository.add_item(paper())).value
    assert item.id is not None
    first = await repository.add_summary(summary_for(item.id))
    second = await repository.add_summary(summary_for(item.id))
    assert first.created and not second.created
    assert second.value.id == first.value.id
    found = await repository.find_summary(item.id, "h" * 64, "p1", "offline")
    assert found is not None
    assert found.bullets == ("첫째 요점입니다.", "둘째 요점입니다.", "셋째 요점입니다.")
    assert await repository.find_summary(item.id, "h" * 64, "p2", "offline") is None
    other_model = await repository.add_summary(summary_for(item.id, model="gpt-x"))
    assert other_model.created


async def test_latest_summaries_and_pending_items(repository: Repository) -> None:
    done = (await repository.add_item(paper("a"))).value
    pending = (await repository.add_item(paper("b"))).value
    assert done.id is not None and pending.id is not None
    await repository.add_summary(summary_for(done.id, prompt_version="p1"))
    newer = (await repository.add_summary(summary_for(done.id, prompt_version="p2"))).value
    latest = await repository.latest_summaries([done.id, pending.id])
    assert list(latest) == [done.id]
    assert latest[done.id].prompt_version == newer.prompt_version
    assert [i.external_id for i in await repository.items_without_summary()] == ["b"]
    assert await repository.items_without_summary(day_from=DAY + timedelta(days=1)) == []


async def test_add_summaries_stores_each_as_add_summary_would(repository: Repository) -> None:
    a, b = (stored.value for stored in await repository.add_items([paper("a"), paper("b")]))
    assert a.id is not None and b.id is not None
    earlier = (await repository.add_summary(summary_for(a.id, prompt_version="p1"))).value
    assert await repository.add_summaries([]) == []
    batch = [
        summary_for(a.id, prompt_version="p1"),  # stored before: the existing row comes back
        replace(summary_for(a.id, prompt_version="p2"), bullets=("Diffusion samplers converge.",)),
        replace(summary_for(b.id), bullets=("Transformers scale.",), levels=(0,)),
        replace(summary_for(b.id), bullets=("Given twice.",)),  # the same key again in one call: created once
    ]
    stored = await repository.add_summaries(batch)
    assert [s.created for s in stored] == [False, True, True, False]
    assert stored[0].value == earlier
    assert stored[3].value == stored[2].value
    assert stored[2].value.bullets == ("Transformers scale.",) and stored[2].value.levels == (0,)
    assert stored[1].value.id not in (None, earlier.id) and stored[1].value.created_at is not None
    for new in (stored[1].value, stored[2].value):
        assert await repository.find_summary(new.item_id, new.input_hash, new.prompt_version, new.model) == new
    latest = await repository.latest_summaries([a.id, b.id])
    assert latest == {a.id: stored[1].value, b.id: stored[2].value}
    assert await repository.items_without_summary() == []
    # Each item's search document has its newest summary's bullets.
    assert [hit.item.id for hit in await repository.search_items("diffusion samplers")] == [a.id]
    assert [hit.item.id for hit in await repository.search_items("transformers")] == [b.id]
    assert await repository.search_items("given twice") == []


async def test_add_summaries_index_each_items_newest_summary_whatever_the_order(repository: Repository) -> None:
    item = (await repository.add_item(paper("a"))).value
    assert item.id is not None
    newer = replace(
        summary_for(item.id, prompt_version="p2"),
        bullets=("Diffusion samplers converge.",),
        created_at=datetime(2025, 3, 18, tzinfo=UTC),
    )
    older = replace(
        summary_for(item.id, prompt_version="p1"),
        bullets=("Reinforcement learning.",),
        created_at=datetime(2025, 3, 17, tzinfo=UTC),
    )
    stored = await repository.add_summaries([newer, older])
    assert [s.created for s in stored] == [True, True]
    assert (await repository.latest_summaries([item.id]))[item.id] == stored[0].value
    assert [hit.item.id for hit in await repository.search_items("diffusion samplers")] == [item.id]
    assert await repository.search_items("reinforcement") == []


async def test_add_summaries_stores_none_of_a_batch_the_database_refuses(repository: Repository) -> None:
    item = (await repository.add_item(paper("a"))).value
    assert item.id is not None
    with pytest.raises(StoreError):
        await repository.add_summaries([summary_for(item.id), summary_for(item.id + 1000)])  # no such item
    assert await repository.find_summary(item.id, "h" * 64, "p1", "offline") is None
    assert [i.id for i in await repository.items_without_summary()] == [item.id]
    assert (await repository.add_summaries([summary_for(item.id)]))[0].created  # the good one alone goes in


async def test_source_state_upserts(repository: Repository) -> None:
    assert await repository.get_source_state("openai") is None
    now = datetime(2025, 1, 1, tzinfo=UTC)
    await repository.save_source_state(SourceState(name="openai", etag='"abc"', consecutive_failures=2))
    await repository.save_source_state(
        SourceState(name="openai", etag='"def"', last_success_at=now, consecutive_failures=0)
    )
    await repository.save_source_state(SourceState(name="anthropic", last_error="HTTP 500"))
    state = await repository.get_source_state("openai")
    assert state == SourceState(name="openai", etag='"def"', last_success_at=now, consecutive_failures=0)
    assert [s.name for s in await repository.list_source_states()] == ["anthropic", "openai"]


async def test_digest_run_is_claimed_once_even_concurrently(repository: Repository) -> None:
    claims = await asyncio.gather(*(repository.claim_run("discord:1", DigestKind.DAILY, DAY) for _ in range(6)))
    assert sum(claim.created for claim in claims) == 1
    run_id = claims[0].value.id
    assert run_id is not None
    assert {claim.value.id for claim in claims} == {run_id}
    assert (await repository.claim_run("discord:1", DigestKind.WEEKLY, DAY)).created
    await repository.set_run_status(run_id, RunStatus.DONE, note="3 chunks")
    again = await repository.claim_run("discord:1", DigestKind.DAILY, DAY)
    assert again.value.status is RunStatus.DONE
    assert again.value.finished_at is not None


async def test_delivery_state_machine_is_compare_and_set(repository: Repository) -> None:
    run = (await repository.claim_run("slack:C1", DigestKind.DAILY, DAY)).value
    assert run.id is not None
    item = (await repository.add_item(paper())).value
    first = await repository.add_delivery(Delivery(run_id=run.id, target="slack:C1", chunk=0, item_id=item.id))
    dup = await repository.add_delivery(Delivery(run_id=run.id, target="slack:C1", chunk=0))
    assert first.created and not dup.created
    delivery_id = first.value.id
    assert delivery_id is not None

    racers = await asyncio.gather(
        *(
            repository.transition_delivery(delivery_id, expected=[DeliveryState.PENDING], new=DeliveryState.SENDING)
            for _ in range(5)
        )
    )
    assert sorted(racers) == [False, False, False, False, True]
    assert await repository.transition_delivery(
        delivery_id, expected=[DeliveryState.SENDING], new=DeliveryState.SENT, platform_message_id="1700.01"
    )
    assert not await repository.transition_delivery(
        delivery_id, expected=[DeliveryState.PENDING, DeliveryState.SENDING], new=DeliveryState.SENDING
    )
    [stored] = await repository.list_deliveries(run.id)
    assert (stored.state, stored.platform_message_id, stored.attempts, stored.item_id) == (
        DeliveryState.SENT,
        "1700.01",
        1,
        item.id,
    )
    found = await repository.find_delivery_by_message("slack:C1", "1700.01")
    assert found is not None and found.id == delivery_id
    assert await repository.find_delivery_by_message("slack:C2", "1700.01") is None


async def test_votes_count_once_per_voter_message_and_emoji(repository: Repository) -> None:
    item = (await repository.add_item(paper())).value
    assert item.id is not None

    def vote(voter: str, emoji: str = "👍", value: int = 1, channel: str = "c1") -> Vote:
        return Vote(
            platform="discord",
            message_id="m1",
            voter_hash=voter,
            emoji=emoji,
            value=value,
            channel_id=channel,
            item_id=item.id,
        )

    results = await asyncio.gather(*(repository.add_vote(vote("u1")) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert await repository.add_vote(vote("u2"))
    assert await repository.add_vote(vote("u3", emoji="👎", value=-1, channel="c2"))
    assert await repository.vote_totals([item.id]) == {item.id: 1}
    assert await repository.vote_totals([item.id], channel_id="c1") == {item.id: 2}
    assert await repository.remove_vote("discord", "m1", "u2", "👍")
    assert not await repository.remove_vote("discord", "m1", "u2", "👍")
    assert await repository.vote_totals([item.id]) == {item.id: 0}
    assert await repository.vote_totals([]) == {}


async def test_subscription_upsert_list_and_remove(repository: Repository) -> None:
    sub = Subscription(
        platform="discord",
        workspace_id="g1",
        channel_id="c1",
        filters=ChannelFilters(keywords=("agent",), min_upvotes=5),
    )
    saved = await repository.save_subscription(sub)
    assert saved.id is not None
    changed = await repository.save_subscription(
        Subscription(platform="discord", workspace_id="g1", channel_id="c1", time="08:30", timezone="UTC")
    )
    assert changed.id == saved.id
    weekly = await repository.save_subscription(
        Subscription(platform="discord", channel_id="c1", kind=DigestKind.WEEKLY, weekday=4)
    )
    await repository.save_subscription(Subscription(platform="slack", channel_id="C9"))
    discord = await repository.list_subscriptions(platform="discord")
    assert [(s.kind, s.time, s.timezone) for s in discord] == [
        (DigestKind.DAILY, "08:30", "UTC"),
        (DigestKind.WEEKLY, "09:00", "Asia/Seoul"),
    ]
    assert discord[0].filters == ChannelFilters()
    assert weekly.weekday == 4
    assert discord[0].target == "discord:c1"
    assert await repository.remove_subscription("discord", "c1", DigestKind.WEEKLY) == 1
    assert await repository.remove_subscription("discord", "c1") == 1
    assert [s.platform for s in await repository.list_subscriptions()] == ["slack"]


async def test_subscription_filters_round_trip(repository: Repository) -> None:
    filters = ChannelFilters(
        keywords=("에이전트", "RL"),
        exclude=("crypto",),
        authors=("Yann LeCun",),
        sources=("hf_daily",),
        topics=("LLMs",),
        min_upvotes=10,
    )
    await repository.save_subscription(Subscription(platform="slack", channel_id="C1", filters=filters))
    [stored] = await repository.list_subscriptions()
    assert stored.filters == filters


async def test_inbound_events_are_processed_once(repository: Repository) -> None:
    results = await asyncio.gather(*(repository.mark_event_processed("slack", "Ev1") for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert await repository.mark_event_processed("discord", "Ev1")


async def test_llm_usage_totals_per_day(repository: Repository) -> None:
    assert (await repository.usage_totals(DAY)).calls == 0
    for tokens in (100, 250):
        await repository.record_usage(
            LlmUsage(day=DAY, backend="openai_compat", model="m", tokens_in=tokens, tokens_out=50, cost_usd=0.25)
        )
    await repository.record_usage(
        LlmUsage(day=DAY + timedelta(days=1), backend="x", model="m", tokens_in=1, tokens_out=1, cost_usd=9.0)
    )
    totals = await repository.usage_totals(DAY)
    assert (totals.calls, totals.tokens_in, totals.tokens_out) == (2, 350, 100)
    assert abs(totals.cost_usd - 0.5) < 1e-9


async def test_add_items_in_bulk_mixes_new_existing_and_repeated_keys(repository: Repository) -> None:
    await repository.add_item(paper("old", title="Stored first"))
    batch = [paper(f"n{i}", upvotes=i) for i in range(450)]  # more than one multi-row INSERT batch
    results = await repository.add_items([paper("old", title="Changed"), *batch, paper("n7", title="Again")])
    assert [r.created for r in results] == [False, *([True] * 450), False]
    assert results[0].value.title == "Stored first"
    assert results[-1].value.id == results[8].value.id  # n7 given twice: one row, second mention exists
    assert results[-1].value.title == "A paper"
    assert [r.value.external_id for r in results[1:451]] == [f"n{i}" for i in range(450)]
    assert len({r.value.id for r in results}) == 451
    assert len(await repository.list_items()) == 451


async def test_last_run_finds_the_previous_digest(repository: Repository) -> None:
    assert await repository.last_run("discord:1", DigestKind.DAILY) is None
    for offset in (3, 1, 2):
        await repository.claim_run("discord:1", DigestKind.DAILY, DAY - timedelta(days=offset))
    await repository.claim_run("discord:1", DigestKind.WEEKLY, DAY)
    await repository.claim_run("discord:2", DigestKind.DAILY, DAY)
    newest = await repository.last_run("discord:1", DigestKind.DAILY)
    assert newest is not None
    assert newest.day == DAY - timedelta(days=1)
    earlier = await repository.last_run("discord:1", DigestKind.DAILY, before=DAY - timedelta(days=1))
    assert earlier is not None
    assert earlier.day == DAY - timedelta(days=2)
    assert await repository.last_run("discord:1", DigestKind.DAILY, before=DAY - timedelta(days=3)) is None


async def test_list_votes_of_one_message(repository: Repository) -> None:
    item = (await repository.add_item(paper())).value
    for voter, emoji, message in (("u1", "👍", "m1"), ("u2", "👎", "m1"), ("u1", "👍", "m2")):
        await repository.add_vote(
            Vote(platform="slack", message_id=message, voter_hash=voter, emoji=emoji, value=1, item_id=item.id)
        )
    await repository.add_vote(Vote(platform="discord", message_id="m1", voter_hash="u9", emoji="👍", value=1))
    votes = await repository.list_votes("slack", "m1")
    assert sorted((v.voter_hash, v.emoji) for v in votes) == [("u1", "👍"), ("u2", "👎")]
    assert all(v.item_id == item.id for v in votes)
    assert await repository.list_votes("slack", "nope") == []
