"""The delivery state machine of publishing, against every Repository implementation, with a fake sender."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import pytest

from paperbot.domain import DeliveryState, DigestKind, RunStatus, Subscription, utcnow
from paperbot.errors import DeliveryError
from paperbot.ports import Repository
from paperbot.service.publish import (
    DELIVERY_KEY_LENGTH,
    ChannelUnavailableError,
    ChunkRejectedError,
    NotSentError,
    OutboundChunk,
    OutcomeUnknownError,
    PublishResult,
    channel_of,
    delivery_key,
    publish_chunks,
)

DAY = date(2024, 4, 19)
TARGET = "fake:42"


class _Crash(DeliveryError):
    """Not a publishing error: stands for the process dying in the middle of a send."""


@dataclass
class FakeChunkSender:
    """Posts into a list; ``failures`` maps a send number (1-based) to the exception that send raises,
    optionally after "posting" (to model a lost answer)."""

    platform: str = "fake"
    posted: list[tuple[str, str, OutboundChunk]] = field(default_factory=list)  # (message id, key, chunk)
    sends: int = 0
    failures: dict[int, tuple[Exception, bool]] = field(default_factory=dict)
    decorated: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    enforce_nonce: bool = True
    yield_in_send: bool = False

    async def send(self, channel_id: str, chunk: OutboundChunk, *, key: str) -> str:
        self.sends += 1
        if self.yield_in_send:
            await asyncio.sleep(0)
        failure = self.failures.get(self.sends)
        message_id = str(1000 + len(self.posted))
        if failure is not None:
            exc, posted_anyway = failure
            if posted_anyway:
                self.posted.append((message_id, key, chunk))
            raise exc
        # enforce_nonce: the same key within the window returns the earlier message.
        for earlier_id, earlier_key, _ in self.posted:
            if earlier_key == key and self.enforce_nonce:
                return earlier_id
        self.posted.append((message_id, key, chunk))
        return message_id

    async def find(self, channel_id: str, chunk: OutboundChunk, *, key: str, since: datetime | None) -> str | None:
        self.lookups.append(key)
        for message_id, posted_key, _ in self.posted:
            if posted_key == key:
                return message_id
        return None

    async def decorate(self, channel_id: str, message_id: str, chunk: OutboundChunk) -> None:
        if chunk.reactions:
            self.decorated.append(message_id)


def chunks(count: int) -> list[OutboundChunk]:
    header = OutboundChunk(payload={"content": "header"})
    items = [
        OutboundChunk(payload={"content": f"paper {n}"}, item_id=None, reactions=("👍", "👎")) for n in range(count)
    ]
    return [header, *items]


async def publish(repository: Repository, sender: FakeChunkSender, count: int = 3) -> PublishResult:
    return await publish_chunks(repository, sender, target=TARGET, kind=DigestKind.DAILY, day=DAY, chunks=chunks(count))


def test_delivery_key_is_deterministic_short_and_distinct() -> None:
    from paperbot.domain import Delivery, DigestRun

    run = DigestRun(target=TARGET, kind=DigestKind.DAILY, day=DAY, id=7)
    first = Delivery(run_id=7, target=TARGET, chunk=0, id=1)
    second = Delivery(run_id=7, target=TARGET, chunk=1, id=2)
    assert delivery_key(run, first) == delivery_key(run, replace(first))
    assert delivery_key(run, first) != delivery_key(run, second)
    other_db = DigestRun(target=TARGET, kind=DigestKind.DAILY, day=date(2024, 4, 20), id=7)
    assert delivery_key(run, first) != delivery_key(other_db, first)
    assert len(delivery_key(run, first)) <= DELIVERY_KEY_LENGTH


def test_channel_of_rejects_malformed_targets() -> None:
    assert channel_of("discord:123") == ("discord", "123")
    for bad in ("discord", "discord:", ":123"):
        with pytest.raises(ValueError, match="delivery target"):
            channel_of(bad)


async def test_publishes_every_chunk_once_and_a_second_run_posts_nothing(repository: Repository) -> None:
    sender = FakeChunkSender()
    result = await publish(repository, sender)
    assert result.complete and not result.already_done
    assert result.sent == 4 and sender.sends == 4
    assert [p[2].payload["content"] for p in sender.posted] == ["header", "paper 0", "paper 1", "paper 2"]
    assert [ref.chunk for ref in result.refs] == [0, 1, 2, 3]
    assert all(d.state is DeliveryState.SENT for d in result.deliveries)
    assert len(sender.decorated) == 3  # reactions under the papers, not the header

    again = await publish(repository, sender)
    assert again.already_done and again.sent == 0 and sender.sends == 4
    assert [r.message_id for r in again.refs] == [r.message_id for r in result.refs]
    claimed = await repository.claim_run(TARGET, DigestKind.DAILY, DAY)
    assert claimed.value.status is RunStatus.DONE


async def test_unknown_outcome_is_looked_up_and_not_posted_twice(repository: Repository) -> None:
    # The second send reaches the platform but the answer is lost (timeout).
    sender = FakeChunkSender(failures={2: (OutcomeUnknownError("timeout"), True)})
    first = await publish(repository, sender)
    assert not first.complete and first.error and "outcome unknown" in first.error
    assert [d.state for d in first.deliveries] == [DeliveryState.SENT, DeliveryState.UNKNOWN]
    assert len(sender.posted) == 2

    second = await publish(repository, sender)
    assert second.complete and second.reconciled == 1 and second.sent == 2
    assert len(sender.posted) == 4  # header, paper 0 (once), paper 1, paper 2
    assert [p[2].payload["content"] for p in sender.posted] == ["header", "paper 0", "paper 1", "paper 2"]
    states = [d.state for d in second.deliveries]
    assert states == [DeliveryState.SENT, DeliveryState.RECONCILED, DeliveryState.SENT, DeliveryState.SENT]


async def test_unknown_outcome_that_never_arrived_is_sent_again_with_the_same_key(repository: Repository) -> None:
    sender = FakeChunkSender(failures={2: (OutcomeUnknownError("timeout"), False)})
    await publish(repository, sender)
    second = await publish(repository, sender)
    assert second.complete and second.reconciled == 0
    assert [p[2].payload["content"] for p in sender.posted] == ["header", "paper 0", "paper 1", "paper 2"]
    assert len(sender.lookups) == 1


async def test_crash_between_sent_and_recorded_is_reconciled(repository: Repository) -> None:
    """A worker posted chunk 1 and died before recording it: the row stays "sending". Once stale, it is found."""
    sender = FakeChunkSender(failures={2: (_Crash("killed"), True)})
    with pytest.raises(_Crash):
        await publish(repository, sender, count=1)
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.id is not None
    assert [d.state for d in await repository.list_deliveries(run.id)] == [DeliveryState.SENT, DeliveryState.SENDING]

    # Right away, the chunk may still be in another worker's hands: nothing is sent, the pass stops.
    early = await publish(repository, sender, count=1)
    assert not early.complete and early.error and "another worker" in early.error
    assert sender.sends == 2 and not sender.lookups

    later = await publish_chunks(
        repository, sender, target=TARGET, kind=DigestKind.DAILY, day=DAY, chunks=chunks(1),
        now=lambda: utcnow() + timedelta(minutes=10),
    )  # fmt: skip
    assert later.complete and later.reconciled == 1 and later.sent == 0
    assert sender.sends == 2  # nothing re-sent
    assert later.deliveries[1].platform_message_id == sender.posted[1][0]


async def test_forbidden_marks_the_subscription_broken_without_retrying(repository: Repository) -> None:
    await repository.save_subscription(Subscription(platform="fake", channel_id="42"))
    await repository.save_subscription(Subscription(platform="fake", channel_id="43"))
    sender = FakeChunkSender(failures={1: (ChannelUnavailableError("forbidden (403)"), False)})
    result = await publish(repository, sender)
    assert not result.complete and result.broken_reason == "forbidden (403)"
    assert sender.sends == 1
    subs = {s.channel_id: s for s in await repository.list_subscriptions(platform="fake")}
    assert subs["42"].broken_reason == "forbidden (403)"
    assert subs["43"].broken_reason is None
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.status is RunStatus.FAILED


async def test_not_sent_goes_back_to_pending_and_resumes_in_order(repository: Repository) -> None:
    sender = FakeChunkSender(failures={3: (NotSentError("rate limited for 600s"), False)})
    first = await publish(repository, sender)
    assert not first.complete
    assert [d.state for d in first.deliveries] == [DeliveryState.SENT, DeliveryState.SENT, DeliveryState.PENDING]
    second = await publish(repository, sender)
    assert second.complete and second.sent == 2
    assert [p[2].payload["content"] for p in sender.posted] == ["header", "paper 0", "paper 1", "paper 2"]


async def test_a_rejected_chunk_fails_alone(repository: Repository) -> None:
    sender = FakeChunkSender(failures={2: (ChunkRejectedError("400"), False)})
    result = await publish(repository, sender)
    assert result.complete and result.failed == 1 and result.sent == 3
    assert [d.state for d in result.deliveries][1] is DeliveryState.FAILED


async def test_two_concurrent_passes_post_each_chunk_once(repository: Repository) -> None:
    """Two workers publish the same digest at once; the compare-and-set decides, not the platform's nonce."""
    sender = FakeChunkSender(enforce_nonce=False, yield_in_send=True)
    first, second = await asyncio.gather(publish(repository, sender), publish(repository, sender))
    final = await publish(repository, sender)
    assert final.complete
    contents = [p[2].payload["content"] for p in sender.posted]
    assert sorted(contents) == sorted(["header", "paper 0", "paper 1", "paper 2"])
    assert first.sent + second.sent + final.sent == 4
