"""The runtime's jobs without a clock: which slots were missed, catch-up, digests past a hanging source, leadership."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from paperbot.domain import DigestKind, Item, ItemKind, RunStatus, Subscription
from paperbot.ports import FetchResult, Repository
from paperbot.service.pipeline import DigestPipeline
from paperbot.service.publish import OutboundChunk
from paperbot.service.runtime import (
    Leadership,
    LeadershipLostError,
    Runtime,
    plan_catch_up,
    slot_day,
    slot_times,
)
from paperbot.store.memory import InMemoryRepository
from paperbot.summarize.offline import OfflineSummarizer
from tests.service.test_publish import FakeChunkSender

DAILY = Subscription(platform="discord", channel_id="123", time="09:00", timezone="Asia/Seoul")
WEEKLY = Subscription(platform="discord", channel_id="123", kind=DigestKind.WEEKLY, weekday=0)
# 2026-03-03 (a Tuesday) 10:30 in Seoul.
NOW = datetime(2026, 3, 3, 1, 30, tzinfo=UTC)
ONE_DAY = timedelta(days=1)


def test_slot_times_daily_and_weekly_in_the_subscription_timezone() -> None:
    start = datetime(2026, 2, 28, 0, 0, tzinfo=UTC)
    daily = slot_times(DAILY, start, NOW)
    assert [slot.astimezone(UTC) for slot in daily] == [
        datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 0, 0, tzinfo=UTC),
    ]  # 09:00 KST = 00:00 UTC; the 2026-02-28 09:00 slot is exactly at start, so excluded
    weekly = slot_times(WEEKLY, start, NOW)
    assert [slot.date() for slot in weekly] == [date(2026, 3, 2)]  # the Monday
    assert slot_day(DAILY, daily[-1]) == date(2026, 3, 2)
    with pytest.raises(ValueError, match="aware"):
        slot_times(DAILY, datetime(2026, 3, 1), NOW)  # noqa: DTZ001


def test_down_through_the_0900_slot_and_started_at_1030_posts_that_digest() -> None:
    plan = plan_catch_up(DAILY, now=NOW, last_day=date(2026, 3, 1), look_back=ONE_DAY)
    assert plan.publish == (date(2026, 3, 2),)
    assert plan.skip == ()


def test_five_day_outage_posts_only_the_look_back_window_and_skips_the_rest() -> None:
    plan = plan_catch_up(DAILY, now=NOW, last_day=date(2026, 2, 25), look_back=ONE_DAY)
    assert plan.publish == (date(2026, 3, 2),)
    assert plan.skip == (date(2026, 2, 26), date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1))


def test_nothing_to_catch_up_after_the_slot_was_posted_or_before_it_is_due() -> None:
    assert plan_catch_up(DAILY, now=NOW, last_day=date(2026, 3, 2), look_back=ONE_DAY).publish == ()
    early = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)  # 08:59 KST on 03-03: today's slot is not due yet
    plan = plan_catch_up(DAILY, now=early, last_day=date(2026, 3, 1), look_back=ONE_DAY)
    assert plan.publish == () and plan.skip == ()
    # A new subscription (no runs): at most the latest slot within the look-back, nothing recorded as skipped.
    fresh = plan_catch_up(DAILY, now=NOW, last_day=None, look_back=ONE_DAY)
    assert fresh == type(fresh)(publish=(date(2026, 3, 2),), skip=())


class StaticSource:
    """One paper for any day, or (``hang``) a source that accepts the request and never answers."""

    def __init__(self, name: str, *, hang: bool = False, kind: ItemKind = ItemKind.PAPER) -> None:
        self.name = name
        self.kind = kind
        self.hang = hang
        self.calls = 0

    async def fetch(self, day: date, *, state: object = None) -> FetchResult:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        return FetchResult(
            items=[
                Item(
                    source=self.name,
                    external_id=f"2603.{day:%d}001",
                    kind=ItemKind.PAPER,
                    title=f"Paper of {day}",
                    url=f"https://arxiv.org/abs/2603.{day:%d}001",
                    day=day,
                    abstract="We study a thing and find it works well on every benchmark we tried.",
                    upvotes=5,
                )
            ]
        )

    async def fetch_one(self, external_id: str) -> Item | None:
        return None


def _runtime(repository: Repository, sender: FakeChunkSender, *sources: StaticSource, now: datetime = NOW) -> Runtime:
    sender.renderer = lambda digest: [OutboundChunk(payload={"content": f"{digest.day} {len(digest.entries)}"})]
    pipeline = DigestPipeline(
        repository=repository,
        sources=list(sources),  # type: ignore[arg-type]
        summarizer=OfflineSummarizer(),
        senders={"discord": sender},
        source_deadline=0.3,
        collect_deadline=10,
        now=lambda: now,
    )
    return Runtime(repository=repository, pipeline=pipeline, job_deadline=30, now=lambda: now)


async def test_catch_up_posts_once_records_skips_and_a_second_restart_posts_nothing(repository: Repository) -> None:
    await repository.save_subscription(DAILY)
    old = await repository.claim_run(DAILY.target, DigestKind.DAILY, date(2026, 2, 25))
    assert old.value.id is not None
    await repository.set_run_status(old.value.id, RunStatus.DONE)
    sender = FakeChunkSender()
    runtime = _runtime(repository, sender, StaticSource("hf_daily"))

    posted = await runtime.catch_up()
    assert [day for _, day in posted] == [date(2026, 3, 2)]
    assert [chunk.payload["content"] for _, _, chunk in sender.posted] == ["2026-03-02 1"]
    for day in (date(2026, 2, 26), date(2026, 3, 1)):
        run = await repository.last_run(DAILY.target, DigestKind.DAILY, before=day + ONE_DAY)
        assert run is not None and run.day == day and run.status is RunStatus.SKIPPED

    assert await runtime.catch_up() == []  # second restart: nothing missed any more
    await runtime.digest(DAILY, date(2026, 3, 2))  # the scheduled job firing too: still posted once
    assert len(sender.posted) == 1


async def test_unfinished_runs_within_the_look_back_are_resumed_once(repository: Repository) -> None:
    await repository.save_subscription(DAILY)
    sender = FakeChunkSender()
    runtime = _runtime(repository, sender, StaticSource("hf_daily"))
    # A crash after claiming the 03-02 run (09:00 slot on 03-03, 1.5 hours ago) and before posting anything.
    claimed = await repository.claim_run(DAILY.target, DigestKind.DAILY, date(2026, 3, 2))
    assert claimed.created
    assert [day for _, day in await runtime.resume_unfinished()] == [date(2026, 3, 2)]
    assert len(sender.posted) == 1
    assert await runtime.resume_unfinished() == []
    assert len(sender.posted) == 1


async def test_unfinished_runs_older_than_the_look_back_are_left_alone() -> None:
    repository = InMemoryRepository()
    await repository.save_subscription(DAILY)
    runtime = _runtime(repository, FakeChunkSender(), StaticSource("hf_daily"))
    await repository.claim_run(DAILY.target, DigestKind.DAILY, date(2026, 2, 27))
    assert await runtime.resume_unfinished() == []


async def test_a_hanging_source_does_not_stop_the_digest() -> None:
    repository = InMemoryRepository()
    good, stuck = StaticSource("hf_daily"), StaticSource("blog", hang=True, kind=ItemKind.POST)
    sender = FakeChunkSender()
    runtime = _runtime(repository, sender, good, stuck)
    result = await runtime.digest(DAILY, date(2026, 3, 2))
    assert result is not None and result.complete
    assert stuck.calls == 1
    assert [chunk.payload["content"] for _, _, chunk in sender.posted] == ["2026-03-02 1"]
    assert runtime.stats.failures == {}


async def test_a_job_past_its_deadline_fails_alone_and_is_counted() -> None:
    runtime = _runtime(InMemoryRepository(), FakeChunkSender(), StaticSource("blog", hang=True, kind=ItemKind.POST))
    runtime.job_deadline = 0.05
    runtime.pipeline.source_deadline = 60
    assert not await runtime.collect_blogs()
    assert runtime.stats.failures == {"collect_blogs": 1}
    assert await runtime.collect_papers()  # no paper source: nothing to do, succeeds


async def test_a_platform_that_is_not_enabled_posts_nothing() -> None:
    runtime = _runtime(InMemoryRepository(), FakeChunkSender())
    other = Subscription(platform="slack", channel_id="C1")
    assert await runtime.digest(other, date(2026, 3, 2)) is None


async def test_leadership_standby_takes_over_after_expiry_and_the_old_leader_stops() -> None:
    repository = InMemoryRepository()
    clock = [NOW]
    ttl = timedelta(seconds=30)
    first = Leadership(repository, "a", ttl, now=lambda: clock[0])
    second = Leadership(repository, "b", ttl, now=lambda: clock[0])
    assert await first.attempt()
    assert not await second.attempt()
    clock[0] += timedelta(seconds=10)
    assert await first.attempt()  # renewed
    clock[0] += timedelta(seconds=35)  # the leader stopped renewing (paused, killed)
    assert await second.attempt()
    assert second.elected.is_set()
    with pytest.raises(LeadershipLostError):
        await first.attempt()


async def test_leader_keeps_leading_through_a_short_database_outage_then_gives_up() -> None:
    class Flaky(InMemoryRepository):
        down = False

        async def acquire_lease(self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None) -> bool:
            if self.down:
                raise ConnectionError("database unreachable")
            return await super().acquire_lease(name, holder, ttl, now=now)

    repository = Flaky()
    clock = [NOW]
    leader = Leadership(repository, "a", timedelta(seconds=30), now=lambda: clock[0])
    assert await leader.attempt()
    repository.down = True
    clock[0] += timedelta(seconds=20)
    assert await leader.attempt()
    clock[0] += timedelta(seconds=15)
    with pytest.raises(LeadershipLostError):
        await leader.attempt()
