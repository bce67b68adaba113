"""``paperbot digest --to discord:ID`` as cron runs it: REST only, posts once, a second run posts nothing."""

from __future__ import annotations

import asyncio
import os

from click.testing import CliRunner, Result

from paperbot.cli import cli
from paperbot.store.engine import create_engine
from paperbot.store.sql import SqlRepository
from tests.factories import DAY, paper
from tests.platforms.discord.conftest import CHANNEL
from tests.platforms.discord.fake_api import FakeDiscord


async def _seed(url: str) -> None:
    repository = SqlRepository(create_engine(url), owns_engine=True)
    try:
        await repository.add_items([paper(n, title=f"Paper {n} @everyone") for n in range(3)])
    finally:
        await repository.close()


def _invoke(url: str, api_base: str) -> Result:
    env = {
        "PAPERBOT_DATABASE_URL": url,
        "PAPERBOT_DISCORD_TOKEN": "test-token",
        "PAPERBOT_DISCORD_API_BASE": api_base,
        "PAPERBOT_LOG_LEVEL": "WARNING",
    }
    assert "PAPERBOT_CONFIG" not in os.environ
    args = ["digest", "--date", DAY.isoformat(), "--no-collect", "--to", f"discord:{CHANNEL}"]
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


async def test_cli_posts_the_digest_once(fake: FakeDiscord, sqlite_url: str) -> None:
    await _seed(sqlite_url)
    # The CLI runs its own event loop: give it a thread while this loop serves the fake API.
    first = await asyncio.to_thread(_invoke, sqlite_url, fake.base)
    assert first.exit_code == 0, first.output
    assert "게시했습니다" in first.stdout
    posted = fake.sent(CHANNEL)
    assert len(posted) == 4  # header + 3 papers (offline summaries made on the way)
    for request in posted:
        assert request.json["allowed_mentions"]["parse"] == []

    second = await asyncio.to_thread(_invoke, sqlite_url, fake.base)
    assert second.exit_code == 0, second.output
    assert "이미 게시되었습니다" in second.stdout
    assert len(fake.sent(CHANNEL)) == 4


def _sync(url: str, api_base: str) -> Result:
    env = {"PAPERBOT_DATABASE_URL": url, "PAPERBOT_DISCORD_TOKEN": "test-token", "PAPERBOT_DISCORD_API_BASE": api_base,
           "PAPERBOT_LOG_LEVEL": "WARNING"}  # fmt: skip
    return CliRunner().invoke(cli, ["discord", "sync"], env=env, catch_exceptions=False)


async def test_discord_sync_registers_the_commands_even_unchanged(fake: FakeDiscord, sqlite_url: str) -> None:
    from tests.platforms.discord.fake_api import Failure

    for expected in (1, 2):  # forced: the second run syncs again although nothing changed
        result = await asyncio.to_thread(_sync, sqlite_url, fake.base)
        assert result.exit_code == 0, result.output
        assert "등록했습니다" in result.stdout
        assert len(fake.calls("PUT", "/commands")) == expected
    assert [command["name"] for command in fake.commands] == ["paper"]
    fake.fail("PUT", "/applications/", Failure(400, {"message": "Invalid Form Body", "code": 50035, "errors": {}}))
    failed = await asyncio.to_thread(_sync, sqlite_url, fake.base)
    assert failed.exit_code == 1 and "등록하지 못했습니다" in failed.output
