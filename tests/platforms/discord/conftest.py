"""Fixtures: the fake Discord API, settings pointing at it, items and a digest to post."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from paperbot.config import Settings
from paperbot.domain import Digest, Target
from paperbot.platforms.discord import DiscordChunkSender, use_api_base
from paperbot.platforms.discord.api import PLATFORM
from paperbot.service.publish import PublishResult, publish_digest
from paperbot.store.memory import InMemoryRepository
from tests.platforms.discord.dpy_internals import saved_route_base
from tests.platforms.discord.fake_api import FakeDiscord, running_fake_discord

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


async def publish_once(
    settings: Settings, repository: InMemoryRepository, digest: Digest, channel_id: str, **options: Any
) -> PublishResult:
    """Post ``digest`` with the sender the composition root builds from ``settings`` (logged in on first use)."""
    sender = DiscordChunkSender.from_settings(settings, **options)
    try:
        return await publish_digest(repository, digest, Target(PLATFORM, channel_id), {PLATFORM: sender})
    finally:
        await sender.close()
