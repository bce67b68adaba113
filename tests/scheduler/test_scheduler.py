"""The APScheduler wiring: triggers at the subscription's local time, jobs kept in step with subscriptions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from paperbot.domain import DigestKind, Subscription
from paperbot.scheduler import PaperbotScheduler, digest_trigger
from paperbot.service.pipeline import DigestPipeline
from paperbot.service.runtime import Runtime
from paperbot.store.memory import InMemoryRepository
from paperbot.summarize.offline import OfflineSummarizer

SEOUL = ZoneInfo("Asia/Seoul")


def test_daily_and_weekly_triggers_fire_at_the_local_time() -> None:
    now = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)  # Tuesday 10:30 in Seoul
    daily = digest_trigger(Subscription(platform="discord", channel_id="1", time="09:00"))
    assert daily.get_next_fire_time(None, now) == datetime(2026, 3, 4, 9, 0, tzinfo=SEOUL)
    weekly = digest_trigger(
        Subscription(platform="discord", channel_id="1", kind=DigestKind.WEEKLY, weekday=0, time="08:30")
    )
    assert weekly.get_next_fire_time(None, now) == datetime(2026, 3, 9, 8, 30, tzinfo=SEOUL)
    berlin = digest_trigger(Subscription(platform="slack", channel_id="C1", time="07:15", timezone="Europe/Berlin"))
    assert berlin.get_next_fire_time(None, now) == datetime(2026, 3, 3, 7, 15, tzinfo=ZoneInfo("Europe/Berlin"))


async def test_jobs_follow_the_stored_subscriptions() -> None:
    repository = InMemoryRepository()
    pipeline = DigestPipeline(repository=repository, sources=[], summarizer=OfflineSummarizer())
    runtime = Runtime(repository=repository, pipeline=pipeline)
    scheduler = PaperbotScheduler(runtime, resync_seconds=3600, catch_up=False)
    await repository.save_subscription(Subscription(platform="discord", channel_id="1"))
    task = asyncio.create_task(scheduler.run())
    for _ in range(100):
        await asyncio.sleep(0)
        if "digest:discord:1:daily" in scheduler.job_ids():
            break
    assert scheduler.job_ids() == [
        "collect_blogs",
        "collect_papers",
        "digest:discord:1:daily",
        "refresh_upvotes",
        "resume_unfinished",
    ]
    await repository.remove_subscription("discord", "1")
    await repository.save_subscription(Subscription(platform="slack", channel_id="C9", kind=DigestKind.WEEKLY))
    await scheduler.sync()
    assert "digest:discord:1:daily" not in scheduler.job_ids()
    assert "digest:slack:C9:weekly" in scheduler.job_ids()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert scheduler.job_ids() == []
