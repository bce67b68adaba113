"""Several processes publish the same digest at the same moment to one fake Discord: each chunk appears once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from paperbot.store import migrate
from paperbot.store.engine import create_engine
from paperbot.store.sql import SqlRepository
from tests.conftest import PostgresServer
from tests.factories import DAY, paper
from tests.platforms.discord.conftest import CHANNEL
from tests.platforms.discord.fake_api import running_fake_discord

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SENTINEL_TOKEN = "test-token"  # the only token the fake API accepts; it must never reach a log line


async def _seed(url: str) -> None:
    repository = SqlRepository(create_engine(url), owns_engine=True)
    try:
        await repository.add_items([paper(n, title=f"Paper {n}") for n in range(3)])
    finally:
        await repository.close()


async def _digest_process(url: str, api_base: str, cwd: Path) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env.update(
        {
            "PAPERBOT_DATABASE_URL": url,
            "PAPERBOT_DISCORD_TOKEN": SENTINEL_TOKEN,
            "PAPERBOT_DISCORD_API_BASE": api_base,
            "PAPERBOT_LOG_LEVEL": "DEBUG",
        }
    )
    args = ["digest", "--date", DAY.isoformat(), "--no-collect", "--to", f"discord:{CHANNEL}"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paperbot", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode()


async def test_three_processes_post_each_chunk_exactly_once(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = await asyncio.to_thread(postgres_server.create_database)
    await asyncio.to_thread(migrate.upgrade, url)
    await _seed(url)
    async with running_fake_discord() as fake:
        results = await asyncio.gather(*(_digest_process(url, fake.base, tmp_path) for _ in range(3)))
        posted = fake.messages.get(CHANNEL, {})
        payloads = {
            json.dumps({k: v for k, v in request.json.items() if k != "nonce"}, sort_keys=True)
            for request in fake.sent(CHANNEL)
        }
    for code, output in results:
        assert SENTINEL_TOKEN not in output
        # A loser either finds the run done, or finished it, or (exit 1) left it for a rerun: never a double post.
        assert code in (0, 1), output
    assert any(code == 0 for code, _ in results)
    assert len(posted) == 4  # header + 3 papers, each created once
    assert len(payloads) == 4  # four distinct chunks; any retry of one was answered with the same message
