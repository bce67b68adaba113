"""``paperbot digest --to slack:ID`` as cron runs it: Web API only (no Socket Mode), posts once, then nothing."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner, Result

from paperbot.cli import cli
from paperbot.store.engine import create_engine
from paperbot.store.sql import SqlRepository
from tests.factories import DAY, paper
from tests.platforms.slack.conftest import CHANNEL
from tests.platforms.slack.fake_api import BOT_TOKEN, FakeSlack


async def _seed(url: str) -> None:
    repository = SqlRepository(create_engine(url), owns_engine=True)
    try:
        await repository.add_items([paper(n, title=f"Paper {n} <!channel>") for n in range(2)])
    finally:
        await repository.close()


def _invoke(url: str, api_base: str) -> Result:
    env = {
        "PAPERBOT_DATABASE_URL": url,
        "PAPERBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
        "PAPERBOT_SLACK_API_BASE": api_base,
        "PAPERBOT_LOG_LEVEL": "WARNING",
    }
    args = ["digest", "--date", DAY.isoformat(), "--no-collect", "--to", f"slack:{CHANNEL}"]
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


async def test_cli_posts_the_digest_once(fake: FakeSlack, sqlite_url: str) -> None:
    await _seed(sqlite_url)
    # The CLI runs its own event loop: give it a thread while this loop serves the fake API.
    first = await asyncio.to_thread(_invoke, sqlite_url, fake.base)
    assert first.exit_code == 0, first.output
    assert "게시했습니다" in first.stdout
    posts = fake.called("chat.postMessage")
    assert len(posts) == 3  # header + 2 papers in its thread
    header_ts = fake.messages(CHANNEL)[0].ts
    assert all(call.params.get("thread_ts") == header_ts for call in posts[1:])
    assert "<!channel>" not in json.dumps([call.params for call in posts], ensure_ascii=False)

    second = await asyncio.to_thread(_invoke, sqlite_url, fake.base)
    assert second.exit_code == 0, second.output
    assert "이미 게시되었습니다" in second.stdout
    assert len(fake.called("chat.postMessage")) == 3
