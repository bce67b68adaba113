"""Issue 15's reorder-on-resume case on Slack's fake Web API: pass 1 leaves chunk B unsent; by pass 2 HF upvotes
rendered the day as C, A, B. Every paper is posted once in the header's thread, under its own item id, and a vote
counts for its paper."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from paperbot.config import Settings
from paperbot.domain import Item, Target
from paperbot.platforms.slack import ChannelPacer, SlackChunkSender
from paperbot.service.digest import build_digest
from paperbot.service.publish import publish_digest
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY, paper, seed
from tests.platforms.slack.conftest import CHANNEL
from tests.platforms.slack.fake_api import Failure, FakeMessage, FakeSlack
from tests.platforms.slack.signed import event_request, reaction_body

TARGET = Target("slack", CHANNEL)


def _shows(message: FakeMessage, item: Item) -> bool:
    return item.title in message.text or item.title in str(message.blocks)


async def test_a_resumed_digest_posts_each_paper_once_under_its_own_id_after_a_reorder(
    platform: Any, fake: FakeSlack, repository: InMemoryRepository, settings: Settings, pacer: ChannelPacer
) -> None:
    papers = [replace(paper(n), upvotes=upvotes) for n, upvotes in ((1, 30), (2, 20), (3, 10))]
    a, b, c = await seed(repository, papers)
    assert a.id is not None and b.id is not None and c.id is not None
    first = await build_digest(repository, day=DAY, target=str(TARGET))
    assert [e.item.id for e in first.entries] == [a.id, b.id, c.id]

    # Header and A go out; B meets a 429 of an hour (longer than the sender waits): it stays unsent.
    fake.fail("chat.postMessage", Failure("ratelimited", 429, {"Retry-After": "3600"}), after=2)
    one = await publish_digest(
        repository, first, TARGET, {"slack": SlackChunkSender.from_settings(settings, pacer=pacer)}
    )
    assert not one.complete and "rate limited" in (one.error or "")
    header, *replies = fake.messages(CHANNEL)
    assert len(replies) == 1 and _shows(replies[0], a)

    await repository.update_upvotes(c.id, 90, datetime(2024, 4, 20, 7, tzinfo=UTC))
    second = await build_digest(repository, day=DAY, target=str(TARGET))
    assert [e.item.id for e in second.entries] == [c.id, a.id, b.id]  # what a re-render would post now
    sender = SlackChunkSender.from_settings(settings, pacer=pacer)
    two = await publish_digest(repository, second, TARGET, {"slack": sender})
    assert two.complete and two.sent == 2  # B and C: the header and A went out in pass 1

    header, *replies = fake.messages(CHANNEL)
    assert all(m.thread_ts == header.ts for m in replies)  # every paper in the header's thread
    shown = [[item.id for item in (a, b, c) if _shows(m, item)] for m in replies]
    assert shown == [[a.id], [b.id], [c.id]]  # each paper once, in the claimed order
    for message, [item_id] in zip(replies, shown, strict=True):
        delivery = await repository.find_delivery_by_message(str(TARGET), message.ts)
        assert delivery is not None and delivery.item_id == item_id

    # A 👍 on the message showing C counts for C, not for the paper a re-render put at its position.
    c_message = replies[2]
    fake.react(CHANNEL, c_message.ts, "thumbsup", "U0MEMBER1")
    response = await platform.app.async_dispatch(event_request(reaction_body("reaction_added", ts=c_message.ts)))
    assert response.status == 200
    assert await asyncio.wait_for(platform.outcomes.get(), 5) == "counted"
    assert await repository.vote_totals([a.id, b.id, c.id], channel_id=CHANNEL) == {c.id: 1}
