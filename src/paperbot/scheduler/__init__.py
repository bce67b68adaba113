"""When jobs run: APScheduler 3's AsyncIOScheduler over the jobs of ``paperbot.service.runtime``.

Only the leader runs a scheduler (see ``paperbot.service.runtime.Leadership``). Subscriptions are re-read every
``resync_seconds`` so ``/paper subscribe`` changes take effect without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from paperbot.domain import DigestKind, Subscription
from paperbot.service.runtime import Runtime, slot_day

logger = logging.getLogger("paperbot.scheduler")
# APScheduler logs every job add and run at INFO; our jobs log one summary line each instead.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

#: A job fired late (the loop was busy, the process paused) still runs within this many seconds.
MISFIRE_GRACE_SECONDS = 600


def _digest_job_id(subscription: Subscription) -> str:
    return f"digest:{subscription.target}:{subscription.kind.value}"


def digest_trigger(subscription: Subscription) -> CronTrigger:
    """Daily at ``time``, or weekly on ``weekday`` (0 = Monday) at ``time``, in the subscription's timezone."""
    at = subscription.at
    hour, minute = at.hour, at.minute
    weekday: Any = subscription.weekday if subscription.kind is DigestKind.WEEKLY else None
    return CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=ZoneInfo(subscription.timezone))


@dataclass(slots=True)
class PaperbotScheduler:
    """The schedule: digests per subscription, HF collection, hourly blogs, the daily upvote refresh."""

    runtime: Runtime
    hf_collect_hours: Sequence[int] = (0, 1, 2, 3, 6, 12, 18)
    upvote_refresh_hour: int = 4
    resync_seconds: float = 60.0
    catch_up: bool = True
    #: Schedules that are not stored subscriptions (``paperbot run --console``).
    extra: Sequence[Subscription] = ()
    _scheduler: AsyncIOScheduler | None = None
    _schedules: dict[str, tuple[str, str, int, str]] = field(default_factory=dict)

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs()) if self._scheduler else []

    def _start(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(
            timezone=ZoneInfo("UTC"),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        )
        hours = ",".join(str(hour) for hour in sorted(set(self.hf_collect_hours)))
        if hours:
            scheduler.add_job(self.runtime.collect_papers, CronTrigger(hour=hours, minute=7), id="collect_papers")
        scheduler.add_job(self.runtime.collect_blogs, CronTrigger(minute=17), id="collect_blogs")
        scheduler.add_job(
            self.runtime.refresh_upvotes,
            CronTrigger(hour=self.upvote_refresh_hour, minute=37),
            id="refresh_upvotes",
        )
        # Finish digests a crash or a lost answer left half-posted (each chunk is looked up before a re-send).
        scheduler.add_job(self.runtime.resume_unfinished, CronTrigger(minute="*/5"), id="resume_unfinished")
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    async def _digest(self, subscription: Subscription) -> None:
        await self.runtime.digest(subscription, slot_day(subscription, self.runtime.now()))

    async def sync(self) -> None:
        """Add, move or remove digest jobs to match the stored subscriptions."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        wanted: dict[str, Subscription] = {_digest_job_id(subscription): subscription for subscription in self.extra}
        for subscription in await self.runtime.repository.list_subscriptions():
            if subscription.enabled and not subscription.broken_reason:
                wanted[_digest_job_id(subscription)] = subscription
        for job_id in set(self._schedules) - set(wanted):
            scheduler.remove_job(job_id)
            del self._schedules[job_id]
            logger.info("schedule: removed %s", job_id)
        for job_id, subscription in wanted.items():
            key = (subscription.time, subscription.timezone, subscription.weekday, subscription.kind.value)
            if self._schedules.get(job_id) == key:
                continue
            scheduler.add_job(
                self._digest, digest_trigger(subscription), args=[subscription], id=job_id, replace_existing=True
            )
            self._schedules[job_id] = key
            logger.info("schedule: %s at %s %s", job_id, subscription.time, subscription.timezone)

    async def run(self) -> None:
        """Schedule everything, catch up on missed digests, then keep the schedule in step until cancelled."""
        scheduler = self._start()
        try:
            await self.sync()
            if self.catch_up:
                await self.runtime.catch_up()
            while True:
                await asyncio.sleep(self.resync_seconds)
                try:
                    await self.sync()
                except Exception as exc:  # a database hiccup must not stop the schedule
                    logger.warning("schedule: resync failed: %s", type(exc).__name__)
        finally:
            scheduler.shutdown(wait=False)
            self._scheduler = None
            self._schedules.clear()
