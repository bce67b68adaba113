"""SIGKILL in the middle of publishing, on both platforms: after a restart each chunk is on the platform once.

(a) killed after the platform accepted a chunk, before the database recorded it: the restart finds the message
(Discord nonce/channel history, Slack metadata) and reconciles it, posting nothing extra. (b) killed after the chunk
was marked ``sending``, before the request: the restart finds nothing and posts it exactly once. A chunk left in
``sending`` belongs to its worker for ``STALE_SENDING`` (2 minutes); the test ages that row instead of waiting.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from paperbot.domain import utcnow
from paperbot.store.engine import create_engine
from paperbot.store.sql import SqlRepository
from tests.factories import DAY, paper
from tests.platforms.discord.conftest import CHANNEL as DISCORD_CHANNEL
from tests.platforms.discord.fake_api import running_fake_discord
from tests.platforms.slack.fake_api import BOT_TOKEN, running_fake_slack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SLACK_CHANNEL = "C0PAPERS01"
PAPERS = 3


async def _seed(url: str) -> None:
    repository = SqlRepository(create_engine(url), owns_engine=True)
    try:
        await repository.add_items([paper(n, title=f"Paper {n}") for n in range(PAPERS)])
    finally:
        await repository.close()


async def _age_sending_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            old = (utcnow() - timedelta(minutes=3)).replace(tzinfo=None)
            result = await conn.execute(
                text("UPDATE deliveries SET updated_at = :old WHERE state = 'sending'"), {"old": old}
            )
            return int(result.rowcount)
    finally:
        await engine.dispose()


async def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode if process.returncode is not None else -1, output.decode()


def _env(url: str, platform: str, base: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env["PAPERBOT_DATABASE_URL"] = url
    if platform == "discord":
        env.update({"PAPERBOT_DISCORD_TOKEN": "test-token", "PAPERBOT_DISCORD_API_BASE": base})
    else:
        env.update({"PAPERBOT_SLACK_BOT_TOKEN": BOT_TOKEN, "PAPERBOT_SLACK_API_BASE": base})
    return env


@pytest.mark.parametrize("platform", ["discord", "slack"])
@pytest.mark.parametrize("mode", ["after", "before"])
async def test_sigkill_mid_publish_then_restart_posts_each_chunk_once(tmp_path: Path, platform: str, mode: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    from paperbot.store import migrate

    await asyncio.to_thread(migrate.upgrade, url)
    await _seed(url)
    channel = DISCORD_CHANNEL if platform == "discord" else SLACK_CHANNEL
    digest = ["-m", "paperbot", "digest", "--date", DAY.isoformat(), "--no-collect", "--to", f"{platform}:{channel}"]
    async with running_fake_discord() as discord_fake, running_fake_slack() as slack_fake:
        base = discord_fake.base if platform == "discord" else slack_fake.base

        def on_platform() -> int:
            return len(bodies())

        def bodies() -> list[str]:
            """What each posted message shows (its text and blocks or embeds), one entry per message."""
            if platform == "discord":
                return [
                    json.dumps({k: v for k, v in m.data.items() if k in ("content", "embeds")}, sort_keys=True)
                    for m in discord_fake.messages.get(channel, {}).values()
                ]
            return [json.dumps([m.text, m.blocks], sort_keys=True) for m in slack_fake.messages(channel)]

        env = _env(url, platform, base)
        code, output = await _run(env, "-m", "tests.runtime.crash_publish", mode, platform, "2", *digest[2:])
        assert code == -signal.SIGKILL, output
        assert on_platform() == (2 if mode == "after" else 1)
        assert await _age_sending_rows(url) == 1

        code, output = await _run(env, *digest)
        assert code == 0, output
        assert "게시했습니다" in output
        assert ("확인됨 1" in output) == (mode == "after"), output  # reconciled, not re-sent
        total = on_platform()
        code, output = await _run(env, *digest)  # a third run posts nothing
        assert code == 0 and "이미 게시되었습니다" in output, output
        shown = bodies()
    assert len(shown) == total
    assert len(set(shown)) == total  # no chunk shown twice
    assert total == 1 + PAPERS  # the header and one message per paper
