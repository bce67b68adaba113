"""Publishing a digest with the delivery state machine (platform-neutral; Discord and Slack share it).

:func:`publish_digest` is the one publishing use case (``paperbot digest --to``, the scheduler, resume, catch-up).
The database decides what is posted. One digest run per (target, kind, day) is claimed; the digest is rendered
once, when the run has no chunks yet, and its chunks (payload, item id, reactions, thread parent) are stored as the
run's delivery rows in one step. Every later pass sends from that stored copy, never from a new rendering: HF
upvotes and new summaries reorder a rendering, and a re-render would post a paper twice and record it under
another paper's position (its votes counting for that paper). Each delivery row moves pending → sending → sent. Every move is a compare-and-set, so two senders racing on one
chunk never both post it. A chunk whose outcome is unknown (timeout, crash between "sent" and "recorded") is looked
up on the platform before anything is re-sent, and the platform is given a deterministic idempotency key
(:func:`delivery_key`; Discord: the nonce with ``enforce_nonce``) so a re-send within its window returns the
earlier message instead of posting twice.

Before a pass sends anything it asks the sender to be ready (:meth:`ChunkSender.ready`: Discord's login, Slack's
``auth.test``). A rejected token or an unreachable platform is found there, before any chunk is attempted: every
chunk stays ``pending`` and the run's note says "not sent", so the pass after the token is fixed sends them all.
A rejected token (``ConfigError``) is raised after that, for the caller to report as a configuration error.

Failures are sorted by what they mean:

- :class:`ChannelUnavailableError` (403, deleted channel): nothing more can be posted there. The chunk fails, the
  run fails, the channel's subscriptions are marked broken; no retry loop.
- :class:`OutcomeUnknownError` (timeout, repeated 5xx): the chunk may or may not be posted; it is left ``unknown``
  and the pass stops, so the next pass looks it up first.
- :class:`NotSentError` (rate limit longer than we wait, transient refusal, a token rejected mid-pass) and
  ``ConfigError`` from a send: certainly not posted; back to ``pending`` and the pass stops (the next pass retries
  it).
- :class:`ChunkRejectedError` (a 400 for this payload): that chunk fails, the others still go out.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from paperbot.domain import (
    FINAL_DELIVERY_STATES,
    Delivery,
    DeliveryState,
    Digest,
    DigestKind,
    DigestRun,
    OutboundChunk,
    PostRef,
    RunStatus,
    Target,
    utcnow,
)
from paperbot.errors import ConfigError, DeliveryError
from paperbot.ports import ChunkSender, DeliveryRepository, SubscriptionRepository

__all__ = [
    "ChannelUnavailableError",
    "ChunkRejectedError",
    "ChunkSender",
    "NotSentError",
    "OutboundChunk",
    "OutcomeUnknownError",
    "PublishResult",
    "delivery_key",
    "publish_chunks",
    "publish_digest",
]

log = logging.getLogger(__name__)

#: Longest idempotency key: Discord accepts nonces of up to 25 characters.
DELIVERY_KEY_LENGTH = 25
#: A chunk "sending" for longer than this lost its worker (a send times out well before).
STALE_SENDING = timedelta(minutes=2)


class ChannelUnavailableError(DeliveryError):
    """The channel is gone or the bot may not post there (403, unknown channel): a human must fix it."""

    user_message = "채널에 메시지를 보낼 수 없습니다. 봇 권한과 채널을 확인해 주세요."


class OutcomeUnknownError(DeliveryError):
    """The platform may or may not have accepted the chunk (timeout, repeated server errors)."""


class NotSentError(DeliveryError):
    """The platform certainly did not accept the chunk (rate limited for too long, transient refusal)."""


class ChunkRejectedError(DeliveryError):
    """The platform rejected this one payload (a 400): retrying it would fail the same way."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What one publishing pass did."""

    run: DigestRun
    refs: tuple[PostRef, ...] = ()
    sent: int = 0
    reconciled: int = 0
    failed: int = 0
    already_done: bool = False
    complete: bool = False
    error: str | None = None
    broken_reason: str | None = None
    deliveries: tuple[Delivery, ...] = field(default=())


def delivery_key(run: DigestRun, delivery: Delivery) -> str:
    """A deterministic idempotency key for one delivery, at most 25 characters.

    Derived from the delivery id and what it delivers (target, kind, day, chunk), so a fresh database whose ids
    start again at 1 does not collide with keys used by a previous one.
    """
    basis = f"{delivery.id}|{run.target}|{run.kind.value}|{run.day.isoformat()}|{delivery.chunk}"
    digest = hashlib.sha256(basis.encode()).hexdigest()
    return ("pb" + digest)[:DELIVERY_KEY_LENGTH]


class PublishRepository(DeliveryRepository, SubscriptionRepository, Protocol):
    """What publishing needs from the store."""


async def mark_channel_broken(repository: SubscriptionRepository, platform: str, channel_id: str, reason: str) -> int:
    """Mark every subscription of the channel broken (shown in ``status``); returns how many."""
    marked = 0
    for subscription in await repository.list_subscriptions(platform=platform, channel_id=channel_id):
        if subscription.broken_reason != reason:
            await repository.save_subscription(replace(subscription, broken_reason=reason))
            marked += 1
    return marked


@dataclass(slots=True)
class _Pass:
    """One publishing pass over the chunks of a run: the per-chunk state machine and its tallies."""

    repository: PublishRepository
    sender: ChunkSender
    run: DigestRun
    channel_id: str
    sent: int = 0
    reconciled: int = 0
    failed: int = 0
    error: str | None = None
    broken: str | None = None
    now: Callable[[], datetime] = utcnow
    stale_after: timedelta = STALE_SENDING
    #: chunk index → platform message id of chunks settled in this pass (or before it)
    message_ids: dict[int, str] = field(default_factory=dict)

    def _stale(self, delivery: Delivery) -> bool:
        return delivery.updated_at is None or delivery.updated_at <= self.now() - self.stale_after

    async def _move(self, delivery_id: int, old: DeliveryState, new: DeliveryState, **changes: Any) -> bool:
        return await self.repository.transition_delivery(delivery_id, expected=(old,), new=new, **changes)

    async def deliver(self, chunk: OutboundChunk, delivery: Delivery) -> bool:
        """Bring one chunk to a final state if possible; False when the pass must stop here."""
        delivery_id = _require_id(delivery.id)
        key = delivery_key(self.run, delivery)
        state = delivery.state
        if state in FINAL_DELIVERY_STATES:
            if delivery.platform_message_id is not None:
                self.message_ids[delivery.chunk] = delivery.platform_message_id
            return True
        if state is DeliveryState.SENDING and not self._stale(delivery):
            # Another worker is posting this chunk right now: leave it to them, and keep the order.
            self.error = f"chunk {delivery.chunk}: being sent by another worker"
            return False
        if state in (DeliveryState.SENDING, DeliveryState.UNKNOWN):
            # A previous pass crashed mid-send or could not tell: look before sending again.
            try:
                known = next(reversed(self.message_ids.values()), None)
                found = await self.sender.find(self.channel_id, chunk, key=key, since=delivery.updated_at, known=known)
            except ChannelUnavailableError as exc:
                return await self._broken(delivery_id, state, exc)
            except DeliveryError as exc:
                self.error = f"chunk {delivery.chunk}: lookup failed: {exc}"
                return False
            if found is not None:
                self.message_ids[delivery.chunk] = found
                if await self._move(delivery_id, state, DeliveryState.RECONCILED, platform_message_id=found):
                    self.reconciled += 1
                    await self.sender.decorate(self.channel_id, found, chunk)
                return True
            if not await self._move(delivery_id, state, DeliveryState.PENDING):
                return True  # another sender moved it meanwhile
        # pending → sending: only the winner of this compare-and-set posts.
        if not await self._move(delivery_id, DeliveryState.PENDING, DeliveryState.SENDING):
            return True
        sending = DeliveryState.SENDING
        try:
            message_id = await self.sender.send(self.channel_id, chunk, key=key)
        except ChannelUnavailableError as exc:
            return await self._broken(delivery_id, sending, exc)
        except ChunkRejectedError as exc:
            log.warning("chunk rejected", extra={"target": self.run.target, "chunk": delivery.chunk, "error": str(exc)})
            await self._move(delivery_id, sending, DeliveryState.FAILED, error=str(exc))
            self.failed += 1
            return True
        except (NotSentError, ConfigError) as exc:
            # ConfigError: the platform refused our credentials, so it did not take the chunk.
            self.error = f"chunk {delivery.chunk}: not sent: {exc}"
            await self._move(delivery_id, sending, DeliveryState.PENDING, error=str(exc))
            return False
        except OutcomeUnknownError as exc:
            self.error = f"chunk {delivery.chunk}: outcome unknown: {exc}"
            await self._move(delivery_id, sending, DeliveryState.UNKNOWN, error=str(exc))
            return False
        await self._move(delivery_id, sending, DeliveryState.SENT, platform_message_id=message_id)
        self.message_ids[delivery.chunk] = message_id
        self.sent += 1
        await self.sender.decorate(self.channel_id, message_id, chunk)
        return True

    async def _broken(self, delivery_id: int, state: DeliveryState, exc: DeliveryError) -> bool:
        self.broken = str(exc)
        await self._move(delivery_id, state, DeliveryState.FAILED, error=self.broken)
        self.failed += 1
        return False


def _content(delivery: Delivery) -> OutboundChunk:
    if delivery.content is None:
        raise DeliveryError(f"delivery {delivery.id} holds no stored chunk")
    return delivery.content


async def _stored_plan(
    repository: PublishRepository,
    run_id: int,
    target: str,
    render: Callable[[], Sequence[OutboundChunk]],
) -> list[tuple[OutboundChunk, Delivery]]:
    """The run's (chunk, delivery) pairs in posting order: stored ones as stored, else rendered and stored now.

    Rows written before chunks were stored (revision 0007) hold no chunk: such a run is finished from a
    rendering, the way it was started.
    """
    deliveries = await repository.list_deliveries(run_id)
    if not deliveries:
        rendered = list(render())
        stored = await repository.store_chunks(
            run_id,
            [
                Delivery(run_id=run_id, target=target, chunk=index, item_id=chunk.item_id, content=chunk)
                for index, chunk in enumerate(rendered)
            ],
        )
        deliveries = stored.value
    if all(delivery.content is not None for delivery in deliveries):
        return [(_content(delivery), delivery) for delivery in sorted(deliveries, key=lambda d: d.chunk)]
    plan = []
    for index, chunk in enumerate(render()):
        stored_row = await repository.add_delivery(
            Delivery(run_id=run_id, target=target, chunk=index, item_id=chunk.item_id)
        )
        plan.append((stored_row.value.content or chunk, stored_row.value))
    return plan


async def publish_digest(
    repository: PublishRepository,
    digest: Digest,
    target: Target,
    senders: Mapping[str, ChunkSender],
    *,
    now: Callable[[], datetime] = utcnow,
    stale_after: timedelta | None = None,
) -> PublishResult:
    """Post ``digest`` to ``target`` with the sender of its platform, each chunk at most once.

    The digest is rendered only when its run has no stored chunks yet; a resumed run sends its stored copy.
    Raises :class:`ConfigError` when the platform has no sender (not configured) or rejects its credentials (then
    nothing was sent: every chunk is left pending and the run's note says "not sent").
    """
    sender = senders.get(target.platform)
    if sender is None:
        raise ConfigError(f"{target.platform} is not configured: cannot post to {target}", key=target.platform)
    return await _publish(
        repository,
        sender,
        target=target,
        kind=digest.kind,
        day=digest.day,
        render=lambda: sender.render(digest),
        now=now,
        stale_after=stale_after,
    )


async def publish_chunks(
    repository: PublishRepository,
    sender: ChunkSender,
    *,
    target: str | Target,
    kind: DigestKind,
    day: date,
    chunks: Sequence[OutboundChunk],
    now: Callable[[], datetime] = utcnow,
    stale_after: timedelta | None = None,
) -> PublishResult:
    """Post already rendered ``chunks`` as the digest run (target, kind, day), at most once each.

    The lower half of :func:`publish_digest` (tests and tools that render themselves). ``chunks`` are stored
    only when the run has none: a run that holds chunks sends those, whatever is passed here.
    """
    where = target if isinstance(target, Target) else Target.parse(target)
    return await _publish(
        repository, sender, target=where, kind=kind, day=day, render=lambda: chunks, now=now, stale_after=stale_after
    )


async def _publish(
    repository: PublishRepository,
    sender: ChunkSender,
    *,
    target: Target,
    kind: DigestKind,
    day: date,
    render: Callable[[], Sequence[OutboundChunk]],
    now: Callable[[], datetime],
    stale_after: timedelta | None,
) -> PublishResult:
    """Claim the run, store its chunks once, and walk them in order.

    Safe to call again at any time: a finished run posts nothing, an interrupted one resumes where it stopped
    (looking up chunks whose outcome is unknown before re-sending them). Chunks are posted in order and a pass
    stops at the first chunk it cannot settle, so the channel never shows chunk 3 before chunk 2. A chunk found
    in ``sending`` is another worker's unless it has been so for ``stale_after`` (then its worker died, and the
    chunk is looked up like an unknown one). A thread reply whose parent has no message (the header was
    rejected) is never posted on its own: the pass stops there.
    """
    platform, channel_id, name = target.platform, target.channel_id, str(target)
    claimed = await repository.claim_run(name, kind, day)
    run = claimed.value
    run_id = _require_id(run.id)
    if not claimed.created and run.status in (RunStatus.DONE, RunStatus.SKIPPED):
        deliveries = await repository.list_deliveries(run_id)
        return PublishResult(
            run=run,
            refs=_refs(platform, channel_id, deliveries),
            already_done=True,
            complete=True,
            deliveries=tuple(deliveries),
        )
    await repository.set_run_status(run_id, RunStatus.PUBLISHING)
    plan = await _stored_plan(repository, run_id, name, render)
    # A run whose chunks are all settled (a pass that died before marking it done) is finished without the platform.
    to_do = any(delivery.state not in FINAL_DELIVERY_STATES for _, delivery in plan)
    not_ready = await _not_ready(repository, sender, run_id, name) if to_do else None
    if not_ready is not None:
        deliveries = await repository.list_deliveries(run_id)
        return PublishResult(
            run=run, refs=_refs(platform, channel_id, deliveries), error=not_ready, deliveries=tuple(deliveries)
        )

    work = _Pass(repository, sender, run, channel_id, now=now, stale_after=stale_after or STALE_SENDING)
    stopped = False
    orphaned: str | None = None
    for chunk, delivery in plan:
        to_send = chunk
        if chunk.thread_of is not None:
            parent = work.message_ids.get(chunk.thread_of)
            if parent is None:
                # Slack: a reply without its thread would be posted top-level, flooding the channel.
                orphaned = f"chunk {delivery.chunk}: its thread parent (chunk {chunk.thread_of}) was not posted"
                work.error = orphaned
                stopped = True
                break
            to_send = replace(chunk, thread_id=parent)
        if not await work.deliver(to_send, delivery):
            stopped = True
            break

    if work.broken is not None:
        await mark_channel_broken(repository, platform, channel_id, work.broken)
        await repository.set_run_status(run_id, RunStatus.FAILED, note=work.broken)
    elif orphaned is not None:
        # The parent failed for good (rejected): its replies can never be posted as a thread.
        await repository.set_run_status(run_id, RunStatus.FAILED, note=orphaned)
    elif stopped:
        await repository.set_run_status(run_id, RunStatus.PUBLISHING, note=work.error)
    deliveries = await repository.list_deliveries(run_id)
    # Rows beyond this plan (an earlier, longer rendering of a run begun before chunks were stored) do not hold
    # it open.
    complete = not stopped and all(d.state in FINAL_DELIVERY_STATES for d in deliveries if d.chunk < len(plan))
    if complete:
        note = f"{work.failed} chunk(s) rejected" if work.failed else None
        await repository.set_run_status(run_id, RunStatus.DONE, note=note)
    log.info(
        "digest published" if complete else "digest publishing incomplete",
        extra={
            "target": name,
            "kind": kind.value,
            "day": day.isoformat(),
            "sent": work.sent,
            "reconciled": work.reconciled,
            "failed": work.failed,
            "error": work.error or work.broken,
        },
    )
    return PublishResult(
        run=run,
        refs=_refs(platform, channel_id, deliveries),
        sent=work.sent,
        reconciled=work.reconciled,
        failed=work.failed,
        complete=complete,
        error=work.error,
        broken_reason=work.broken,
        deliveries=tuple(deliveries),
    )


async def _not_ready(repository: PublishRepository, sender: ChunkSender, run_id: int, name: str) -> str | None:
    """Ready the sender before the pass; when it cannot be, note on the run that nothing was sent and say why.

    No chunk has been touched then, so none is left ``sending`` or ``unknown`` by a token that was refused: a
    ``ConfigError`` (rejected credentials) is re-raised once noted; a ``DeliveryError`` (platform unreachable)
    comes back as the pass's error.
    """
    try:
        await sender.ready()
    except (ConfigError, DeliveryError) as exc:
        note = f"not sent: {exc}"
        await repository.set_run_status(run_id, RunStatus.PUBLISHING, note=note)
        log.warning("digest not sent: sender not ready", extra={"target": name, "error": str(exc)})
        if isinstance(exc, ConfigError):
            raise
        return note
    return None


def _refs(platform: str, channel_id: str, deliveries: Sequence[Delivery]) -> tuple[PostRef, ...]:
    return tuple(
        PostRef(platform=platform, channel_id=channel_id, message_id=d.platform_message_id, chunk=d.chunk)
        for d in deliveries
        if d.platform_message_id is not None
    )


def _require_id(value: int | None) -> int:
    if value is None:
        raise DeliveryError("the repository returned a row without an id")
    return value
