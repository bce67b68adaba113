"""The long-running bot's jobs: scheduled digests, collection, upvote refresh, catch-up at start, leadership.

Pure of I/O libraries: the scheduler (``paperbot.scheduler``) decides *when*, this module decides *what*. A digest
job runs the one pipeline (:mod:`paperbot.service.pipeline`) and publishes with the platforms' senders built once
by the composition root, so a digest run keeps the delivery guarantees of ``paperbot.service.publish``: a finished
run posts nothing, an interrupted one resumes from its stored chunks, and several instances firing the same slot
post each chunk once.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic_time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from paperbot.digest.days import covered_day
from paperbot.domain import PLATFORMS, Digest, DigestKind, ItemKind, RunStatus, Subscription, Target, utcnow
from paperbot.ports import Repository, Source
from paperbot.service.collect import CollectReport, refresh_recent
from paperbot.service.pipeline import DigestPipeline
from paperbot.service.publish import PublishResult

logger = logging.getLogger("paperbot.runtime")

#: Where a console subscription's digest goes (``paperbot run --console HH:MM``).
PrintDigest = Callable[[Digest], None]

#: The leader lease's name in the ``leases`` table.
LEADER_LEASE = "paperbot.leader"
#: How far back catch-up looks for slots to record as skipped (older gaps are left alone).
SKIP_HORIZON = timedelta(days=31)
#: Platforms whose channels are subscriptions in the database (anything else, e.g. ``console``, is local output).
STORED_PLATFORMS = PLATFORMS


# --- slots (pure) ---------------------------------------------------------------------------------------------


def slot_times(subscription: Subscription, start: datetime, end: datetime) -> list[datetime]:
    """The instants in ``(start, end]`` at which ``subscription``'s digest is due, oldest first, in its timezone.

    Daily: every day at ``time``; weekly: on ``weekday`` (0 = Monday) at ``time``. Local times that do not exist
    (a DST gap) fall on the instant zoneinfo maps them to.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("slot_times needs aware datetimes")
    zone = ZoneInfo(subscription.timezone)
    at = subscription.at
    local_day = start.astimezone(zone).date()
    last_day = end.astimezone(zone).date()
    slots: list[datetime] = []
    while local_day <= last_day:
        if subscription.kind is DigestKind.DAILY or local_day.weekday() == subscription.weekday:
            due = datetime.combine(local_day, at, tzinfo=zone)
            if start < due <= end:
                slots.append(due)
        local_day += timedelta(days=1)
    return slots


def slot_day(subscription: Subscription, due: datetime) -> date:
    """The HF day a slot's digest covers: the day before the slot's local date (see ``paperbot.digest.days``)."""
    return covered_day(due, subscription.timezone)


#: Run states a later pass should finish.
UNFINISHED = (RunStatus.PENDING, RunStatus.PUBLISHING)


def _slot_of(subscription: Subscription, day: date) -> datetime:
    """The instant of the slot whose digest covers ``day`` (inverse of :func:`slot_day`)."""
    zone = ZoneInfo(subscription.timezone)
    return datetime.combine(day + timedelta(days=1), subscription.at, tzinfo=zone)


@dataclass(frozen=True, slots=True)
class CatchUpPlan:
    """Missed slots of one subscription: ``publish`` (within the look-back) and ``skip`` (older), oldest first."""

    publish: tuple[date, ...] = ()
    skip: tuple[date, ...] = ()


def plan_catch_up(
    subscription: Subscription,
    *,
    now: datetime,
    last_day: date | None,
    look_back: timedelta,
    horizon: timedelta = SKIP_HORIZON,
) -> CatchUpPlan:
    """Which missed slots to post and which to record as skipped.

    A slot is missed when it was due at or before ``now`` and covers a day after ``last_day`` (the subscription's
    newest run, whatever its status). Without any previous run nothing is recorded as skipped: there is no gap to
    account for, only possibly the latest slot to post if it falls inside the look-back.
    """
    publish: list[date] = []
    skip: list[date] = []
    for due in slot_times(subscription, now - max(horizon, look_back), now):
        day = slot_day(subscription, due)
        if last_day is not None and day <= last_day:
            continue
        if now - due <= look_back:
            publish.append(day)
        elif last_day is not None:
            skip.append(day)
    return CatchUpPlan(tuple(publish), tuple(skip))


# --- jobs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlatformState:
    """One platform (Discord gateway, Slack app) as ``paperbot run``'s supervisor last saw it; ``/healthz`` says it.

    ``running``: started and not failed (the platform's own library may be reconnecting inside); ``retrying``: it
    failed or stopped and is started again at ``retry_at``. ``problem`` is the exception's type name only: its text
    may quote a token.
    """

    state: str
    problem: str | None = None
    retry_at: datetime | None = None


@dataclass(slots=True)
class JobStats:
    """Counters the metrics endpoint reads (kept here so the runtime stays free of prometheus), and the platforms'
    states for ``/healthz``."""

    runs: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    items_collected: int = 0
    source_failures: int = 0
    summaries: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    cost_usd: float = 0.0
    #: platform name → its state, for the platforms this instance has started (the gateway only on the leader)
    platforms: dict[str, PlatformState] = field(default_factory=dict)

    def bump(self, table: dict[str, int], key: str, by: int = 1) -> None:
        table[key] = table.get(key, 0) + by


@dataclass(slots=True)
class Runtime:
    """Everything a scheduled job needs, built once by the composition root (``paperbot.bootstrap``)."""

    repository: Repository
    pipeline: DigestPipeline
    #: Prints console subscriptions' digests (``paperbot run --console``); None: console slots are skipped.
    print_digest: PrintDigest | None = None
    timezone: str = "Asia/Seoul"
    job_deadline: float = 900.0
    hf_refresh_days: int = 3
    look_back: timedelta = timedelta(days=1)
    now: Callable[[], datetime] = utcnow
    stats: JobStats = field(default_factory=JobStats)

    @property
    def sources(self) -> Sequence[Source]:
        return self.pipeline.sources

    def _paper_sources(self) -> list[str]:
        return [source.name for source in self.sources if source.kind is ItemKind.PAPER]

    def _blog_sources(self) -> list[str]:
        return [source.name for source in self.sources if source.kind is not ItemKind.PAPER]

    async def _timed(self, job: str, work: Callable[[], Awaitable[str]], *, deadline: float | None = None) -> bool:
        """Run one job under its overall deadline; log one summary line. False when it failed or timed out."""
        started = monotonic_time.monotonic()
        self.stats.bump(self.stats.runs, job)
        try:
            async with asyncio.timeout(deadline or self.job_deadline):
                summary = await work()
        except TimeoutError:
            self.stats.bump(self.stats.failures, job)
            logger.error("job %s timed out after %.0fs", job, monotonic_time.monotonic() - started)
            return False
        except Exception as exc:
            self.stats.bump(self.stats.failures, job)
            logger.exception("job %s failed: %s", job, type(exc).__name__)
            return False
        logger.info("job %s done in %.1fs: %s", job, monotonic_time.monotonic() - started, summary)
        return True

    def _count_collected(self, report: CollectReport) -> str:
        self.stats.items_collected += len(report.new_items)
        self.stats.source_failures += len(report.failed)
        failed = ",".join(outcome.name for outcome in report.failed)
        return f"day={report.day} new={len(report.new_items)} failed={failed or '-'}"

    async def _collect(self, day: date, only: Sequence[str]) -> str:
        if not only:
            return "no sources"
        return self._count_collected(await self.pipeline.collect(day, only=only))

    async def collect_papers(self) -> bool:
        """HF Daily Papers of today's and yesterday's UTC day (the day keeps filling after midnight UTC)."""
        today = self.now().date()

        async def work() -> str:
            lines = [await self._collect(day, self._paper_sources()) for day in (today - timedelta(days=1), today)]
            return "; ".join(lines)

        return await self._timed("collect_papers", work)

    async def collect_blogs(self) -> bool:
        return await self._timed("collect_blogs", lambda: self._collect(self.now().date(), self._blog_sources()))

    async def refresh_upvotes(self) -> bool:
        async def work() -> str:
            reports = await refresh_recent(
                self.repository,
                self.sources,
                today=self.now().date(),
                days=self.hf_refresh_days,
                only=self._paper_sources(),
                now=self.now(),
            )
            return f"days={len(reports)}"

        return await self._timed("refresh_upvotes", work)

    async def _already_finished(self, subscription: Subscription, day: date) -> bool:
        run = await self.repository.last_run(subscription.target, subscription.kind, before=day + timedelta(days=1))
        return run is not None and run.day == day and run.status in (RunStatus.DONE, RunStatus.SKIPPED)

    async def digest(self, subscription: Subscription, day: date) -> PublishResult | None:
        """Run the pipeline for ``subscription``'s digest of ``day`` and publish (or print) it.

        Idempotent: a run already done posts nothing (and fetches nothing). Collection has its own shorter deadline,
        so a hanging source delays the digest by at most the pipeline's ``collect_deadline``.
        """
        job = f"digest {subscription.target} {subscription.kind.value} {day}"
        stored = subscription.platform in STORED_PLATFORMS  # console digests have no channel (votes, filters)
        enabled = subscription.platform in self.pipeline.senders if stored else self.print_digest is not None
        if not enabled:
            logger.warning("%s: platform %s is not enabled; not posted", job, subscription.platform)
            return None
        result: list[PublishResult] = []

        async def work() -> str:
            if stored and await self._already_finished(subscription, day):
                return "already posted"
            target = Target(subscription.platform, subscription.channel_id) if stored else None
            prepared = await self.pipeline.prepare(day, subscription.kind, target)
            if prepared.collected is not None:
                self._count_collected(prepared.collected)
            report = prepared.summarized
            self.stats.bump(self.stats.summaries, report.backend or "none", report.llm + report.offline)
            for reason, count in report.fallbacks.items():
                self.stats.bump(self.stats.summaries, f"fallback:{reason}", count)
            self.stats.tokens += report.tokens_in + report.tokens_out
            self.stats.cost_usd += report.cost_usd
            if target is None:
                if self.print_digest is not None:
                    self.print_digest(prepared.digest)
                return "printed"
            outcome = await self.pipeline.publish(prepared.digest, target)
            result.append(outcome)
            self.stats.bump(self.stats.deliveries, "sent", outcome.sent)
            self.stats.bump(self.stats.deliveries, "reconciled", outcome.reconciled)
            self.stats.bump(self.stats.deliveries, "failed", outcome.failed)
            if outcome.already_done:
                return "already posted"
            if not outcome.complete:
                raise RuntimeError(f"not fully posted: {outcome.error or outcome.broken_reason or 'unknown'}")
            return f"sent={outcome.sent} reconciled={outcome.reconciled}"

        await self._timed(job, work)
        return result[0] if result else None

    async def catch_up(self) -> list[tuple[Subscription, date]]:
        """At start: post slots missed within the look-back once; record older missed slots as skipped.

        Returns the (subscription, day) pairs it tried to post.
        """
        now = self.now()
        posted: list[tuple[Subscription, date]] = []
        for subscription in await self.repository.list_subscriptions(active=True):
            last = await self.repository.last_run(subscription.target, subscription.kind)
            plan = plan_catch_up(subscription, now=now, last_day=last.day if last else None, look_back=self.look_back)
            for day in plan.skip:
                claimed = await self.repository.claim_run(subscription.target, subscription.kind, day)
                if claimed.created and claimed.value.id is not None:
                    await self.repository.set_run_status(
                        claimed.value.id, RunStatus.SKIPPED, note="missed while down, older than the look-back"
                    )
                    logger.warning(
                        "catch-up: %s %s digest of %s missed while down; skipped (older than %s)",
                        subscription.target,
                        subscription.kind.value,
                        day,
                        self.look_back,
                    )
            if (
                last is not None
                and last.status in UNFINISHED
                and now - _slot_of(subscription, last.day) <= self.look_back
            ):
                logger.info("catch-up: resuming the unfinished %s digest of %s", subscription.target, last.day)
                await self.digest(subscription, last.day)
                posted.append((subscription, last.day))
            for day in plan.publish:
                logger.info(
                    "catch-up: posting the missed %s %s digest of %s", subscription.target, subscription.kind.value, day
                )
                await self.digest(subscription, day)
                posted.append((subscription, day))
        return posted

    async def resume_unfinished(self) -> list[tuple[Subscription, date]]:
        """Finish runs left pending or half-published (a crash, a lost answer) while they are within the look-back.

        Run periodically: a chunk a dead worker left in ``sending`` is looked up and settled once it is stale.
        """
        now = self.now()
        resumed: list[tuple[Subscription, date]] = []
        for subscription in await self.repository.list_subscriptions(active=True):
            last = await self.repository.last_run(subscription.target, subscription.kind)
            if last is None or last.status not in UNFINISHED:
                continue
            if now - _slot_of(subscription, last.day) > self.look_back:
                continue
            await self.digest(subscription, last.day)
            resumed.append((subscription, last.day))
        return resumed


# --- leadership -----------------------------------------------------------------------------------------------


class LeadershipLostError(Exception):
    """The leader could not renew its lease before it expired: another instance may lead now."""


@dataclass(slots=True)
class Leadership:
    """Holds the leader lease: ``elected`` is set while this instance leads.

    ``run`` retries every ``ttl / 3`` seconds: a standby acquires when the lease is free or expired; the leader
    renews. A leader that cannot renew (database down, or another instance took over) raises
    :class:`LeadershipLostError` once its own lease has run out, so the process stops leading.
    """

    repository: Repository
    holder: str
    ttl: timedelta
    name: str = LEADER_LEASE
    now: Callable[[], datetime] = utcnow
    elected: asyncio.Event = field(default_factory=asyncio.Event)
    _expires: datetime | None = None

    async def attempt(self) -> bool:
        """One acquire-or-renew; updates ``elected``."""
        now = self.now()
        try:
            won = await self.repository.acquire_lease(self.name, self.holder, self.ttl, now=now)
        except Exception as exc:  # the database is briefly away: keep leading until our own lease runs out
            logger.warning("lease %s: renewal failed: %s", self.name, type(exc).__name__)
            if self._expires is not None and self.now() >= self._expires:
                raise LeadershipLostError(f"lease {self.name} expired while the database was unreachable") from exc
            return self.elected.is_set()
        if won:
            if not self.elected.is_set():
                logger.info("lease %s: %s is the leader", self.name, self.holder)
            self._expires = now + self.ttl
            self.elected.set()
        elif self.elected.is_set():
            raise LeadershipLostError(f"lease {self.name} was taken over by another instance")
        return won

    async def run(self) -> None:
        interval = max(self.ttl.total_seconds() / 3, 0.2)
        while True:
            await self.attempt()
            await asyncio.sleep(interval)

    async def release(self) -> None:
        if self.elected.is_set():
            await self.repository.release_lease(self.name, self.holder)
            self.elected.clear()
