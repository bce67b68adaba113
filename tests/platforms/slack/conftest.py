"""Fixtures: the fake Slack Web API, settings pointing at it, a virtual clock for pacing, papers to post."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import stamina

from paperbot.config import Settings
from paperbot.digest.build import build_daily
from paperbot.digest.ranking import RankingPolicy
from paperbot.domain import Digest, Target
from paperbot.platforms.slack import ChannelPacer, SlackChunkSender
from paperbot.platforms.slack.api import PLATFORM
from paperbot.service.publish import PublishResult, publish_digest
from paperbot.store.memory import InMemoryRepository
from tests.factories import DAY, paper, seed
from tests.platforms.slack.fake_api import BOT_TOKEN, FakeSlack, running_fake_slack

CHANNEL = "C0PAPERS01"
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"


class VirtualClock:
    """Monotonic time that moves only when something sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    """stamina's test mode: rate limits are retried as often as the caller allows, without waiting (a test that
    checks the wait itself turns it off)."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack() as server:
        yield server


@pytest.fixture
def settings(fake: FakeSlack) -> Settings:
    return Settings(slack_bot_token=BOT_TOKEN, slack_api_base=fake.base, slack_signing_secret=SIGNING_SECRET)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def pacer(clock: VirtualClock) -> ChannelPacer:
    return ChannelPacer(clock=clock, sleep=clock.sleep)


async def daily_digest(repository: InMemoryRepository, count: int, *, title: str | None = None) -> Digest:
    items = await seed(repository, [paper(n, title=title) for n in range(count)])
    summaries = await repository.latest_summaries([i.id for i in items if i.id is not None])
    policy = RankingPolicy(top_n=None)  # every paper, however many
    return build_daily(DAY, items, summaries=summaries, policy=policy, target=f"slack:{CHANNEL}")


NOW = datetime(2024, 4, 20, 1, 0, tzinfo=UTC)  # 10:00 in Seoul: "today" covers the HF day 2024-04-19
VOTER_KEY = b"0123456789abcdef-test-voter-key"
ADMIN = "U0ADMIN01"
MEMBER = "U0MEMBER1"
ALLOWED = "U0ALLOWED"


@pytest.fixture
def repository() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
async def platform(fake: FakeSlack, settings: Settings, repository: InMemoryRepository) -> Any:
    """The Slack app on the fake API, started (auth.test done), with votes reported to ``platform.outcomes``."""
    import asyncio

    from paperbot.platforms.slack.api import make_web_client
    from paperbot.platforms.slack.app import SlackPlatform
    from paperbot.service.commands import CommandContext

    fake.add_user(ADMIN, admin=True)
    fake.add_user(MEMBER)
    fake.add_user(ALLOWED)
    outcomes: asyncio.Queue[Any] = asyncio.Queue()
    context = CommandContext(repository, timezone="Asia/Seoul", now=lambda: NOW)
    app = SlackPlatform(
        context,
        make_web_client(settings),
        voter_key=VOTER_KEY,
        signing_secret=SIGNING_SECRET,
        admin_users=[ALLOWED],
        on_vote=outcomes.put_nowait,
    )
    app.outcomes = outcomes  # type: ignore[attr-defined]
    await app.start()
    return app


async def publish_once(
    settings: Settings, repository: InMemoryRepository, digest: Digest, channel_id: str, **options: Any
) -> PublishResult:
    """Post ``digest`` with the sender the composition root builds from ``settings`` (token checked on first use)."""
    sender = SlackChunkSender.from_settings(settings, **options)
    return await publish_digest(repository, digest, Target(PLATFORM, channel_id), {PLATFORM: sender})
