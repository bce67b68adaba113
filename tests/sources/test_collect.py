"""The collect use case over every Repository implementation, with fake sources (and one real FeedSource)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime

import httpx

from paperbot.domain import Item, ItemKind, SourceState
from paperbot.errors import ParseError, SourceError
from paperbot.ports import FetchResult, Repository
from paperbot.service.collect import SourceStatus, collect, is_degraded, refresh_recent
from paperbot.sources.feed import FeedSource
from paperbot.sources.fetch import Fetcher
from tests.sources.helpers import FEEDS

DAY = date(2025, 8, 20)
T1 = datetime(2025, 8, 20, 1, tzinfo=UTC)
T2 = datetime(2025, 8, 21, 1, tzinfo=UTC)


def paper(n: int, upvotes: int = 0, captured: datetime = T1) -> Item:
    return Item(
        source="hf_daily",
        external_id=f"2508.{n:05d}",
        kind=ItemKind.PAPER,
        title=f"Paper {n}",
        url=f"https://arxiv.org/abs/2508.{n:05d}",
        day=DAY,
        authors=("B Author", "A Author"),
        upvotes=upvotes,
        upvotes_captured_at=captured,
    )


class FakeSource:
    """Answers with queued results or raises queued errors; records what state it was given."""

    def __init__(self, name: str, *answers: FetchResult | BaseException, delay: float = 0.0) -> None:
        self.name = name
        self.kind = ItemKind.PAPER
        self.answers = list(answers)
        self.delay = delay
        self.states: list[SourceState | None] = []

    async def fetch(self, day: date, *, state: SourceState | None = None) -> FetchResult:
        self.states.append(state)
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def fetch_one(self, external_id: str) -> Item | None:
        return None


async def test_one_failing_source_never_stops_the_others(repository: Repository) -> None:
    good = FakeSource("hf_daily", FetchResult(items=[paper(1, 5), paper(2, 3)]))
    broken = FakeSource("blog", SourceError("HTTP 500 from https://blog.example/feed"))
    crashing = FakeSource("other", RuntimeError("bug in a plugin"))
    report = await collect(repository, [broken, good, crashing], day=DAY, now=T1)
    assert [(o.name, o.status) for o in report.sources] == [
        ("blog", SourceStatus.FAILED),
        ("hf_daily", SourceStatus.OK),
        ("other", SourceStatus.FAILED),
    ]
    assert report.sources[0].error == "HTTP 500 from https://blog.example/feed"
    assert report.sources[2].error == "RuntimeError: bug in a plugin"
    assert [(c.item.external_id, c.new) for c in report.items] == [("2508.00001", True), ("2508.00002", True)]
    assert all(c.item.id is not None for c in report.items)
    stored = await repository.find_item("hf_daily", "2508.00001")
    assert stored is not None and stored.authors == ("B Author", "A Author")
    state = await repository.get_source_state("blog")
    assert state is not None and state.consecutive_failures == 1 and state.last_success_at is None
    assert state.last_error == "HTTP 500 from https://blog.example/feed" and state.last_attempt_at == T1


async def test_health_counts_failures_and_success_resets(repository: Repository) -> None:
    source = FakeSource("blog", ParseError("no entries"), ParseError("no entries"), ParseError("no entries"),
                        FetchResult(items=[]))  # fmt: skip
    for _ in range(3):
        await collect(repository, [source], day=DAY, now=T1)
    state = await repository.get_source_state("blog")
    assert state is not None and state.consecutive_failures == 3 and is_degraded(state, 3) and not is_degraded(state, 4)
    report = await collect(repository, [source], day=DAY, now=T2)
    assert report.sources[0].status is SourceStatus.OK
    state = await repository.get_source_state("blog")
    assert state is not None and state.consecutive_failures == 0 and state.last_error is None
    assert state.last_success_at == T2 and not is_degraded(state)


async def test_existing_papers_get_their_upvotes_refreshed(repository: Repository) -> None:
    source = FakeSource(
        "hf_daily", FetchResult(items=[paper(1, 5, T1)]), FetchResult(items=[paper(1, 42, T2), paper(3)])
    )
    await collect(repository, [source], day=DAY, now=T1)
    report = await collect(repository, [source], day=DAY, now=T2)
    assert [(c.item.external_id, c.new, c.item.upvotes) for c in report.items] == [
        ("2508.00001", False, 42),
        ("2508.00003", True, 0),
    ]
    stored = await repository.find_item("hf_daily", "2508.00001")
    assert stored is not None and stored.upvotes == 42 and stored.upvotes_captured_at == T2
    # An older capture never overwrites a newer one.
    stale = FakeSource("hf_daily", FetchResult(items=[paper(1, 7, T1)]))
    await collect(repository, [stale], day=DAY, now=T2)
    again = await repository.find_item("hf_daily", "2508.00001")
    assert again is not None and again.upvotes == 42


async def test_only_and_state_handed_to_sources(repository: Repository) -> None:
    await repository.save_source_state(SourceState("blog", etag='"abc"', last_success_at=T1))
    blog = FakeSource("blog", FetchResult(not_modified=True, etag='"abc"'))
    hf = FakeSource("hf_daily", FetchResult(items=[paper(1)]))
    report = await collect(repository, [blog, hf], day=DAY, only=["blog"], now=T2)
    assert [o.name for o in report.sources] == ["blog"] and hf.states == []
    assert blog.states[0] is not None and blog.states[0].etag == '"abc"'
    assert report.sources[0].status is SourceStatus.NOT_MODIFIED and report.sources[0].ok
    state = await repository.get_source_state("blog")
    assert state is not None and state.etag == '"abc"' and state.last_success_at == T2


async def test_deadline_cuts_a_slow_source(repository: Repository) -> None:
    slow = FakeSource("slow", FetchResult(items=[paper(9)]), delay=30)
    fast = FakeSource("hf_daily", FetchResult(items=[paper(1)]))
    report = await collect(repository, [slow, fast], day=DAY, now=T1, deadline=0.05)
    assert report.outcome("slow") == replace(
        report.sources[0], status=SourceStatus.FAILED, error="deadline exceeded", consecutive_failures=1
    )
    assert report.outcome("hf_daily") is not None and len(report.new_items) == 1


async def test_not_ready_is_reported(repository: Repository) -> None:
    report = await collect(repository, [FakeSource("hf_daily", FetchResult(items=[paper(1)], not_ready=True))], day=DAY)
    assert report.sources[0].not_ready and report.sources[0].status is SourceStatus.OK


async def test_first_fetch_of_a_feed_records_the_backlog(repository: Repository) -> None:
    bodies = [(FEEDS / "aws_ml_wordpress_rss.xml").read_bytes()]
    newer = bodies[0].replace(
        b"<item>",
        b"<item><title>A brand new post</title><link>https://aws.amazon.com/blogs/machine-learning/new/</link>"
        b"<guid isPermaLink='false'>new-guid</guid><pubDate>Sat, 23 Aug 2025 09:00:00 +0000</pubDate></item><item>",
        1,
    )
    bodies.append(newer)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=bodies.pop(0)))
    async with httpx.AsyncClient(transport=transport) as http:
        source = FeedSource(
            Fetcher(http, host_interval=0, allow_private=True),
            name="aws_ml",
            url="https://aws.example/feed",
            first_fetch_limit=1,
        )
        first = await collect(repository, [source], day=DAY)
        second = await collect(repository, [source], day=DAY)
    flags = {c.item.external_id: c.item.extra.get("backlog", False) for c in first.items}
    assert flags == {
        "5a7d1f0e3c2b8a4d9e6f10b2c3d4e5f6a7b8c9d0": False,  # the newest post
        "4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c": True,
        "3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d": True,
    }
    stored = await repository.find_item("aws_ml", "4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c")
    assert stored is not None and stored.extra["backlog"] is True
    assert [(c.item.external_id, c.new, c.item.extra.get("backlog", False)) for c in second.items if c.new] == [
        ("new-guid", True, False)
    ]


async def test_refresh_recent_collects_the_last_days(repository: Repository) -> None:
    source = FakeSource("hf_daily", FetchResult(items=[paper(1)]))
    days: list[date] = []
    original = source.fetch

    async def spy(day: date, *, state: SourceState | None = None) -> FetchResult:
        days.append(day)
        return await original(day, state=state)

    source.fetch = spy  # type: ignore[method-assign]
    reports = await refresh_recent(repository, [source], today=date(2025, 8, 22), days=3)
    assert days == [date(2025, 8, 19), date(2025, 8, 20), date(2025, 8, 21)] and len(reports) == 3
