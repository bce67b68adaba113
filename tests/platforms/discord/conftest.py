"""Fixtures: the fake Discord API, settings pointing at it, items and a digest to post."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from paperbot.config import Settings
from paperbot.domain import Digest, Item, ItemKind, Summary, Target
from paperbot.platforms.discord import DiscordChunkSender, use_api_base
from paperbot.platforms.discord.api import PLATFORM
from paperbot.service.publish import PublishResult, publish_digest
from paperbot.store.memory import InMemoryRepository
from tests.platforms.discord.dpy_internals import saved_route_base
from tests.platforms.discord.fake_api import FakeDiscord, running_fake_discord

DAY = date(2024, 4, 19)
CHANNEL = "111111111111111111"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    with saved_route_base():
        async with running_fake_discord() as server:
            use_api_base(server.base)
            yield server


@pytest.fixture
def settings(fake: FakeDiscord) -> Settings:
    return Settings(discord_token="test-token", discord_api_base=fake.base)


def paper(n: int, *, title: str | None = None, day: date = DAY, upvotes: int | None = None) -> Item:
    return Item(
        source="hf_daily",
        external_id=f"2404.{12000 + n}",
        kind=ItemKind.PAPER,
        title=title or f"Paper number {n}",
        url=f"https://arxiv.org/abs/2404.{12000 + n}",
        day=day,
        authors=("Kim Minsu", "Lee Jiwoo"),
        abstract="We study things.",
        upvotes=100 - n if upvotes is None else upvotes,
        upvotes_captured_at=datetime(2024, 4, 20, tzinfo=UTC),
    )


async def store_papers(repository: InMemoryRepository, items: list[Item], *, summarize: bool = True) -> list[Item]:
    stored = [(await repository.add_item(item)).value for item in items]
    if summarize:
        for item in stored:
            assert item.id is not None
            await repository.add_summary(
                Summary(item_id=item.id, bullets=("첫째 요점입니다.", "둘째 요점입니다."), backend="offline",
                        model="offline", prompt_version="v1", input_hash=f"h{item.id}")
            )  # fmt: skip
    return stored


async def publish_once(
    settings: Settings, repository: InMemoryRepository, digest: Digest, channel_id: str, **options: Any
) -> PublishResult:
    """Post ``digest`` with the sender the composition root builds from ``settings`` (logged in on first use)."""
    sender = DiscordChunkSender.from_settings(settings, **options)
    try:
        return await publish_digest(repository, digest, Target(PLATFORM, channel_id), {PLATFORM: sender})
    finally:
        await sender.close()
