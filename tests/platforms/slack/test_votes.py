"""Reaction votes: signed Events API callbacks through ``AsyncApp.async_dispatch`` on digest messages."""

from __future__ import annotations

import asyncio
from typing import Any

from paperbot.config import Settings
from paperbot.platforms.slack import ChannelPacer
from paperbot.platforms.slack.votes import normalize_reaction, vote_emoji
from paperbot.service.votes import VoteOutcome
from paperbot.store.memory import InMemoryRepository
from tests.platforms.slack.conftest import CHANNEL, MEMBER, daily_digest, publish_once
from tests.platforms.slack.fake_api import BOT_USER, FakeMessage, FakeSlack
from tests.platforms.slack.signed import event_request, reaction_body

OTHER = "U0OTHER01"


async def posted(
    repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer, fake: FakeSlack
) -> list[FakeMessage]:
    digest = await daily_digest(repository, 2)
    result = await publish_once(settings, repository, digest, CHANNEL, pacer=pacer)
    assert result.complete
    return fake.messages(CHANNEL)  # header, paper 0, paper 1


async def deliver(platform: Any, body: str, *, retry: int = 0) -> VoteOutcome:
    response = await platform.app.async_dispatch(event_request(body, retry=retry))
    assert response.status == 200
    return await asyncio.wait_for(platform.outcomes.get(), 5)  # type: ignore[no-any-return]


async def totals(repository: InMemoryRepository, item_ids: list[int]) -> dict[int, int]:
    return await repository.vote_totals(item_ids, channel_id=CHANNEL)


async def test_a_thumbs_up_with_skin_tone_counts_once_even_delivered_four_times(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer
) -> None:
    _, first, _ = await posted(repository, settings, pacer, fake)
    delivery = await repository.find_delivery_by_message(f"slack:{CHANNEL}", first.ts)
    assert delivery is not None and delivery.item_id is not None
    assert await totals(repository, [delivery.item_id]) == {}  # the bot's own 👍/👎 never count

    fake.react(CHANNEL, first.ts, "thumbsup::skin-tone-2", MEMBER)
    body = reaction_body("reaction_added", ts=first.ts, reaction="thumbsup::skin-tone-2", event_id="Ev0SAME01")
    outcomes = [await deliver(platform, body, retry=n) for n in range(4)]
    assert outcomes == [VoteOutcome.COUNTED, VoteOutcome.DUPLICATE, VoteOutcome.DUPLICATE, VoteOutcome.DUPLICATE]
    assert len(fake.called("reactions.get")) == 1  # the retries stopped at the event id, before any work
    assert await totals(repository, [delivery.item_id]) == {delivery.item_id: 1}
    # Only a hash of the voter is stored.
    [vote] = repository._votes.values()
    assert vote.voter_hash != MEMBER and MEMBER not in str(vote) and len(vote.voter_hash) == 32
    assert vote.emoji == "👍"


async def test_thumbs_down_counts_minus_one_and_removal_uncounts(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer
) -> None:
    _, first, _ = await posted(repository, settings, pacer, fake)
    delivery = await repository.find_delivery_by_message(f"slack:{CHANNEL}", first.ts)
    assert delivery is not None and delivery.item_id is not None
    fake.react(CHANNEL, first.ts, "-1", OTHER)
    assert await deliver(platform, reaction_body("reaction_added", ts=first.ts, user=OTHER, reaction="-1")) == "counted"
    assert await totals(repository, [delivery.item_id]) == {delivery.item_id: -1}
    fake.unreact(CHANNEL, first.ts, "-1", OTHER)
    removed = await deliver(platform, reaction_body("reaction_removed", ts=first.ts, user=OTHER, reaction="-1"))
    assert removed is VoteOutcome.REMOVED
    assert await totals(repository, [delivery.item_id]) in ({}, {delivery.item_id: 0})


async def test_add_and_remove_out_of_order_follow_the_current_reactions(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer
) -> None:
    _, first, second = await posted(repository, settings, pacer, fake)
    ids = []
    for message in (first, second):
        delivery = await repository.find_delivery_by_message(f"slack:{CHANNEL}", message.ts)
        assert delivery is not None and delivery.item_id is not None
        ids.append(delivery.item_id)
    # On paper 0 the member added then removed 👍; Slack delivers the removal first.
    removed = await deliver(platform, reaction_body("reaction_removed", ts=first.ts))
    added = await deliver(platform, reaction_body("reaction_added", ts=first.ts))
    assert (removed, added) == (VoteOutcome.NOT_FOUND, VoteOutcome.NOT_FOUND)
    # On paper 1: added, removed, added again; the events arrive as removed, added(1st), added(2nd).
    fake.react(CHANNEL, second.ts, "thumbsup", MEMBER)
    outcomes = [await deliver(platform, reaction_body(kind, ts=second.ts))
                for kind in ("reaction_removed", "reaction_added", "reaction_added")]  # fmt: skip
    assert outcomes[0] is VoteOutcome.COUNTED and outcomes[1:] == [VoteOutcome.DUPLICATE] * 2
    assert await totals(repository, ids) == {ids[1]: 1}


async def test_reactions_that_are_not_votes_are_ignored(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer
) -> None:
    header, first, _ = await posted(repository, settings, pacer, fake)
    other = fake.post(CHANNEL, "someone else's message", user=OTHER)
    fake.react(CHANNEL, header.ts, "thumbsup", MEMBER)
    fake.react(CHANNEL, first.ts, "tada", MEMBER)
    fake.react(CHANNEL, other.ts, "thumbsup", MEMBER)
    for ts, reaction in ((header.ts, "thumbsup"), (first.ts, "tada"), (other.ts, "thumbsup")):
        assert await deliver(platform, reaction_body("reaction_added", ts=ts, reaction=reaction)) == "ignored"
    # The bot's own reaction (bolt drops self events; the handler ignores them too).
    event = {"type": "reaction_added", "user": BOT_USER, "reaction": "thumbsup",
             "item": {"type": "message", "channel": CHANNEL, "ts": first.ts}}  # fmt: skip
    assert await platform.handle_reaction(event, {"event_id": "Ev0BOT001"}) is VoteOutcome.IGNORED
    assert not fake.called("reactions.get")  # nothing was looked up for reactions that cannot be votes


async def test_reconcile_counts_votes_cast_while_away(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer
) -> None:
    from paperbot.domain import Subscription

    await repository.save_subscription(Subscription(platform="slack", channel_id=CHANNEL))
    _, first, second = await posted(repository, settings, pacer, fake)
    fake.react(CHANNEL, first.ts, "thumbsup::skin-tone-5", MEMBER)
    fake.react(CHANNEL, first.ts, "thumbsup", OTHER)
    fake.react(CHANNEL, second.ts, "thumbsdown", MEMBER)
    assert (await platform.reconcile_votes()).added == 3
    assert (await platform.reconcile_votes()).added == 0  # idempotent
    ids = []
    for message in (first, second):
        delivery = await repository.find_delivery_by_message(f"slack:{CHANNEL}", message.ts)
        assert delivery is not None and delivery.item_id is not None
        ids.append(delivery.item_id)
    assert await totals(repository, ids) == {ids[0]: 2, ids[1]: -1}
    assert {c.params["timestamp"] for c in fake.called("reactions.get")} == {first.ts, second.ts}
    # From the deliveries the database knows: one thread read per digest, no channel history.
    assert len(fake.called("conversations.replies")) == 2 and not fake.called("conversations.history")

    # Away again: OTHER takes back 👍 on the first paper, MEMBER takes back 👎 on the second.
    fake.unreact(CHANNEL, first.ts, "thumbsup", OTHER)
    fake.unreact(CHANNEL, second.ts, "thumbsdown", MEMBER)
    assert (await platform.reconcile_votes()).removed == 2
    assert await totals(repository, ids) == {ids[0]: 1}  # the second paper has no vote left


def test_reaction_names_normalise() -> None:
    assert normalize_reaction("thumbsup::skin-tone-2") == "thumbsup"
    assert normalize_reaction(":+1::skin-tone-6:") == "+1"
    assert [vote_emoji(n) for n in ("+1", "thumbsup::skin-tone-3", "-1", "thumbsdown", "tada")] == [
        "👍", "👍", "👎", "👎", None,
    ]  # fmt: skip
