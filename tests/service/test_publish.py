"""The delivery state machine of publishing, against every Repository implementation, with a fake sender."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import pytest

from paperbot.domain import Delivery, DeliveryState, Digest, DigestKind, RunStatus, Subscription, Target, utcnow
from paperbot.errors import ConfigError, DeliveryError
from paperbot.ports import Repository
from paperbot.service.digest import build_digest
from paperbot.service.publish import (
    DELIVERY_KEY_LENGTH,
    ChannelUnavailableError,
    ChunkRejectedError,
    NotSentError,
    OutboundChunk,
    OutcomeUnknownError,
    PublishResult,
    delivery_key,
    publish_chunks,
    publish_digest,
)

DAY = date(2024, 4, 19)
TARGET = "discord:42"


class _Crash(DeliveryError):
    """Not a publishing error: stands for the process dying in the middle of a send."""


@dataclass
class FakeChunkSender:
    """Posts into a list; ``failures`` maps a send number (1-based) to the exception that send raises,
    optionally after "posting" (to model a lost answer). ``not_ready`` is what ``ready()`` raises (a rejected
    token: ConfigError, an unreachable platform: DeliveryError); ``readies`` counts its calls."""

    platform: str = "discord"
    posted: list[tuple[str, str, OutboundChunk]] = field(default_factory=list)  # (message id, key, chunk)
    sends: int = 0
    failures: dict[int, tuple[Exception, bool]] = field(default_factory=dict)
    decorated: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    enforce_nonce: bool = True
    yield_in_send: bool = False
    #: Digest → chunks (default :func:`render_entries`); ``renders`` counts the calls.
    renderer: Callable[[Digest], list[OutboundChunk]] | None = None
    renders: int = 0
    not_ready: Exception | None = None
    readies: int = 0

    async def ready(self) -> None:
        self.readies += 1
        if self.not_ready is not None:
            raise self.not_ready

    def render(self, digest: Digest) -> list[OutboundChunk]:
        self.renders += 1
        return (self.renderer or render_entries)(digest)

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

    async def find(
        self, channel_id: str, chunk: OutboundChunk, *, key: str, since: datetime | None, known: str | None = None
    ) -> str | None:
        self.lookups.append(key)
        for message_id, posted_key, _ in self.posted:
            if posted_key == key:
                return message_id
        return None

    async def decorate(self, channel_id: str, message_id: str, chunk: OutboundChunk) -> None:
        if chunk.reactions:
            self.decorated.append(message_id)


def render_entries(digest: Digest) -> list[OutboundChunk]:
    """A header, then one chunk per entry (in the digest's order) with its item id and the vote reactions."""
    header = OutboundChunk(payload={"content": f"{digest.day} {len(digest.entries)}"})
    return [header] + [
        OutboundChunk(payload={"content": entry.item.title}, item_id=entry.item.id, reactions=("👍", "👎"))
        for entry in digest.entries
    ]


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


def test_a_target_is_parsed_and_validated_once() -> None:
    assert Target.parse("discord:123") == Target("discord", "123")
    assert str(Target.parse(" slack:C0AB12 ")) == "slack:C0AB12"
    for bad in ("discord", "discord:", ":123", "fake:42", "discord:abc", "slack:#general", "slack:c0ab12"):
        with pytest.raises(ConfigError):
            Target.parse(bad)


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
    # Every chunk's row exists from the claim on (the stored rendering); the pass stopped at the unknown one.
    assert [d.state for d in first.deliveries] == [
        DeliveryState.SENT, DeliveryState.UNKNOWN, DeliveryState.PENDING, DeliveryState.PENDING
    ]  # fmt: skip
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
    await repository.save_subscription(Subscription(platform="discord", channel_id="42"))
    await repository.save_subscription(Subscription(platform="discord", channel_id="43"))
    sender = FakeChunkSender(failures={1: (ChannelUnavailableError("forbidden (403)"), False)})
    result = await publish(repository, sender)
    assert not result.complete and result.broken_reason == "forbidden (403)"
    assert sender.sends == 1
    subs = {s.channel_id: s for s in await repository.list_subscriptions(platform="discord")}
    assert subs["42"].broken_reason == "forbidden (403)"
    assert subs["43"].broken_reason is None
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.status is RunStatus.FAILED


async def test_not_sent_goes_back_to_pending_and_resumes_in_order(repository: Repository) -> None:
    sender = FakeChunkSender(failures={3: (NotSentError("rate limited for 600s"), False)})
    first = await publish(repository, sender)
    assert not first.complete
    assert [d.state for d in first.deliveries] == [
        DeliveryState.SENT, DeliveryState.SENT, DeliveryState.PENDING, DeliveryState.PENDING
    ]  # fmt: skip
    second = await publish(repository, sender)
    assert second.complete and second.sent == 2
    assert [p[2].payload["content"] for p in sender.posted] == ["header", "paper 0", "paper 1", "paper 2"]


async def _run(repository: Repository) -> tuple[RunStatus, str | None, list[DeliveryState]]:
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.id is not None
    return run.status, run.note, [d.state for d in await repository.list_deliveries(run.id)]


async def test_a_rejected_token_sends_nothing_and_a_pass_with_a_good_one_sends_everything(
    repository: Repository,
) -> None:
    """The token is checked before the pass: no chunk is attempted, none is left "sending" or "unknown"."""
    sender = FakeChunkSender(not_ready=ConfigError("Discord rejected PAPERBOT_DISCORD_TOKEN"))
    with pytest.raises(ConfigError, match="rejected"):
        await publish(repository, sender)
    assert sender.readies == 1 and sender.sends == 0 and not sender.lookups
    status, note, states = await _run(repository)
    assert states == [DeliveryState.PENDING] * 4
    assert status is RunStatus.PUBLISHING and note == "not sent: Discord rejected PAPERBOT_DISCORD_TOKEN"

    sender.not_ready = None  # the token fixed
    fixed = await publish(repository, sender)
    assert fixed.complete and fixed.sent == 4 and fixed.reconciled == 0 and not sender.lookups
    assert [p[2].payload["content"] for p in sender.posted] == ["header", "paper 0", "paper 1", "paper 2"]
    assert sender.readies == 2  # once per pass, not once per chunk
    assert (await _run(repository))[:2] == (RunStatus.DONE, None)  # the "not sent" note is gone with the pass


async def test_an_unreachable_platform_is_not_sent_and_not_raised(repository: Repository) -> None:
    sender = FakeChunkSender(not_ready=DeliveryError("Discord login failed: ClientConnectorError"))
    result = await publish(repository, sender)
    assert not result.complete and result.error == "not sent: Discord login failed: ClientConnectorError"
    assert sender.sends == 0 and [d.state for d in result.deliveries] == [DeliveryState.PENDING] * 4
    sender.not_ready = None
    assert (await publish(repository, sender)).complete and len(sender.posted) == 4


async def test_a_done_run_does_not_ask_the_sender_to_be_ready(repository: Repository) -> None:
    sender = FakeChunkSender()
    assert (await publish(repository, sender)).complete
    sender.not_ready = ConfigError("revoked since")
    assert (await publish(repository, sender)).already_done and sender.readies == 1


async def test_a_run_with_every_chunk_settled_is_finished_without_the_platform(repository: Repository) -> None:
    """The pass that posted the last chunk died before marking the run done: the next one needs no login."""
    assert (await publish(repository, FakeChunkSender())).complete
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.id is not None
    await repository.set_run_status(run.id, RunStatus.PUBLISHING)
    offline = FakeChunkSender(not_ready=ConfigError("revoked since"))
    finished = await publish(repository, offline)
    assert finished.complete and not finished.already_done and offline.readies == 0 and offline.sends == 0
    assert (await _run(repository))[0] is RunStatus.DONE


async def test_a_token_rejected_during_a_send_is_not_sent(repository: Repository) -> None:
    """Revoked mid-pass: a ConfigError from the send (a sender logging in lazily) means the chunk was not posted."""
    sender = FakeChunkSender(failures={2: (ConfigError("Slack rejected PAPERBOT_SLACK_BOT_TOKEN"), False)})
    first = await publish(repository, sender)
    assert not first.complete and first.error == "chunk 1: not sent: Slack rejected PAPERBOT_SLACK_BOT_TOKEN"
    assert [d.state for d in first.deliveries] == [DeliveryState.SENT] + [DeliveryState.PENDING] * 3
    second = await publish(repository, sender)
    assert second.complete and second.reconciled == 0 and not sender.lookups
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


# --- a run's chunks are stored when it is claimed; every later pass sends that copy ------------------------------


async def _reordered_digests(repository: Repository) -> tuple[Digest, Digest, list[int]]:
    """The digest of DAY as rendered at pass 1 (papers A, B, C) and at pass 2, after HF upvotes moved (C, A, B)."""
    from tests.factories import CAPTURED, paper, seed

    a, b, c = await seed(repository, [paper(1, upvotes=30), paper(2, upvotes=20), paper(3, upvotes=10)])
    ids = [item.id for item in (a, b, c) if item.id is not None]
    first = await build_digest(repository, day=DAY, target=TARGET)
    assert [entry.item.id for entry in first.entries] == ids
    await repository.update_upvotes(ids[2], 90, CAPTURED + timedelta(hours=1))
    second = await build_digest(repository, day=DAY, target=TARGET)
    assert [entry.item.id for entry in second.entries] == [ids[2], ids[0], ids[1]]
    return first, second, ids


async def test_a_resumed_run_posts_its_stored_chunks_not_a_new_rendering(repository: Repository) -> None:
    """Pass 1 leaves chunk B unsent; by pass 2 the rendering is C, A, B. Each paper is posted once, under its id."""
    first, second, ids = await _reordered_digests(repository)
    target = Target.parse(TARGET)
    sender = FakeChunkSender(failures={3: (NotSentError("rate limited for 600s"), False)})  # header, A; not B
    one = await publish_digest(repository, first, target, {"discord": sender})
    assert not one.complete and len(sender.posted) == 2

    two = await publish_digest(repository, second, target, {"discord": sender})
    assert two.complete and two.sent == 2
    assert sender.renders == 1  # rendered once, when the run was claimed
    assert [chunk.payload["content"] for _, _, chunk in sender.posted] == [
        f"{DAY} 3", "Paper number 1", "Paper number 2", "Paper number 3"
    ]  # fmt: skip
    assert [chunk.item_id for _, _, chunk in sender.posted] == [None, *ids]
    for message_id, _, chunk in sender.posted:
        delivery = await repository.find_delivery_by_message(TARGET, message_id)
        assert delivery is not None and delivery.item_id == chunk.item_id
    assert sorted(d.item_id for d in two.deliveries if d.item_id is not None) == sorted(ids)


async def test_stored_chunks_come_back_as_stored_and_are_stored_once(repository: Repository) -> None:
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.id is not None
    chunk = OutboundChunk(
        payload={"text": "머리글 <b>", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]}
    )
    reply = OutboundChunk(payload={"text": "reply"}, item_id=None, reactions=("thumbsup", "thumbsdown"), thread_of=0)
    rows = [
        Delivery(run_id=run.id, target=TARGET, chunk=index, item_id=c.item_id, content=c)
        for index, c in enumerate((chunk, reply))
    ]
    stored = await repository.store_chunks(run.id, rows)
    assert stored.created and [d.content for d in stored.value] == [chunk, reply]
    assert all(d.state is DeliveryState.PENDING and d.id is not None for d in stored.value)

    other = [
        replace(rows[0], content=OutboundChunk(payload={"text": "another rendering"})),
        *rows,
        replace(rows[1], chunk=2),
    ]
    again = await repository.store_chunks(run.id, other)
    assert not again.created  # all or nothing: not one row of the second rendering is added
    assert [d.content for d in again.value] == [chunk, reply]
    assert [d.content for d in await repository.list_deliveries(run.id)] == [chunk, reply]


async def test_two_workers_claiming_one_run_store_one_rendering(repository: Repository) -> None:
    first, second, _ = await _reordered_digests(repository)
    target = Target.parse(TARGET)
    one, two = FakeChunkSender(yield_in_send=True), FakeChunkSender(yield_in_send=True)
    await asyncio.gather(
        publish_digest(repository, first, target, {"discord": one}),
        publish_digest(repository, second, target, {"discord": two}),
    )
    posted = [chunk.payload["content"] for _, _, chunk in one.posted + two.posted]
    assert sorted(posted) == [f"{DAY} 3", "Paper number 1", "Paper number 2", "Paper number 3"]  # each once
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.id is not None
    items = [d.content.item_id for d in await repository.list_deliveries(run.id) if d.content is not None]
    rendered = {tuple(c.item_id for c in render_entries(digest)) for digest in (first, second)}
    assert tuple(items) in rendered  # one rendering, never a mix of both


async def test_rows_from_before_stored_chunks_finish_from_a_rendering(repository: Repository) -> None:
    """A run begun before revision 0007 has rows without a chunk: it resumes the way it started."""
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.id is not None
    await repository.add_delivery(Delivery(run_id=run.id, target=TARGET, chunk=0))
    sender = FakeChunkSender()
    result = await publish(repository, sender, count=2)
    assert result.complete and [p[2].payload["content"] for p in sender.posted] == ["header", "paper 0", "paper 1"]


async def test_a_rejected_thread_header_stops_the_pass_before_any_reply(repository: Repository) -> None:
    """Slack: replies whose header was rejected would be posted top-level, flooding the channel."""
    header = OutboundChunk(payload={"text": "header"})
    replies = [OutboundChunk(payload={"text": f"reply {n}"}, thread_of=0) for n in range(3)]
    sender = FakeChunkSender(failures={1: (ChunkRejectedError("invalid_blocks"), False)})
    result = await publish_chunks(
        repository, sender, target=TARGET, kind=DigestKind.DAILY, day=DAY, chunks=[header, *replies]
    )
    assert not result.complete and result.error and "thread parent" in result.error
    assert sender.sends == 1 and sender.posted == []  # no reply went out on its own
    assert result.run.id is not None
    run = (await repository.claim_run(TARGET, DigestKind.DAILY, DAY)).value
    assert run.status is RunStatus.FAILED  # not retried every pass: the header can never be posted as it is


async def test_subscription_queries_of_a_channel_and_the_active_ones(repository: Repository) -> None:
    await repository.save_subscription(Subscription(platform="discord", channel_id="42"))
    await repository.save_subscription(Subscription(platform="discord", channel_id="42", kind=DigestKind.WEEKLY))
    await repository.save_subscription(Subscription(platform="discord", channel_id="43", broken_reason="403"))
    await repository.save_subscription(Subscription(platform="slack", channel_id="C42", enabled=False))
    of_42 = await repository.list_subscriptions(platform="discord", channel_id="42")
    assert {(s.channel_id, s.kind) for s in of_42} == {("42", DigestKind.DAILY), ("42", DigestKind.WEEKLY)}
    assert {s.target for s in await repository.list_subscriptions(active=True)} == {"discord:42"}
    assert {s.target for s in await repository.list_subscriptions(active=False)} == {"discord:43", "slack:C42"}
