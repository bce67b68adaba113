"""A full digest cycle at DEBUG with sentinel secrets and forced 401s (LLM, Discord, Slack's invalid_auth): no
sentinel in any log line or message."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from aiohttp import web

from paperbot.store import migrate
from tests.factories import DAY
from tests.platforms.discord.conftest import CHANNEL
from tests.platforms.discord.fake_api import running_fake_discord
from tests.platforms.slack.fake_api import running_fake_slack
from tests.runtime.test_crash_recovery import ROOT, _seed

LLM_KEY = "SENTINEL-llm-key-5e1d9c"
VOTE_SALT = "SENTINEL-vote-salt-a7b3"
BAD_DISCORD_TOKEN = "SENTINEL.discord.token-4c2f"
OTHER_CHANNEL = "222222222222222222"


async def _unauthorised_llm() -> tuple[web.AppRunner, str, list[str]]:
    seen: list[str] = []

    async def reject(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response(
            {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, status=401
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", reject)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/v1", seen


async def _digest(env: dict[str, str], target: str = f"discord:{CHANNEL}") -> tuple[int, str]:
    args = ["-m", "paperbot", "digest", "--date", DAY.isoformat(), "--no-collect", "--to", target]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode if process.returncode is not None else -1, output.decode()


async def test_no_sentinel_secret_reaches_a_log_line_or_a_message(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    await _seed(url)
    runner, llm_base, seen = await _unauthorised_llm()
    try:
        async with running_fake_discord() as fake:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
            env.update(
                {
                    "PAPERBOT_DATABASE_URL": url,
                    "PAPERBOT_LOG_LEVEL": "DEBUG",
                    "PAPERBOT_LLM_PROVIDER": "openai_compat",
                    "PAPERBOT_LLM_BASE_URL": llm_base,
                    "PAPERBOT_LLM_MODEL": "gpt-4o-mini",
                    "PAPERBOT_LLM_API_KEY": LLM_KEY,
                    "PAPERBOT_ALLOW_PRIVATE_NETWORKS": "true",
                    "PAPERBOT_VOTE_SALT": VOTE_SALT,
                    "PAPERBOT_DISCORD_TOKEN": "test-token",
                    "PAPERBOT_DISCORD_API_BASE": fake.base,
                }
            )
            code, output = await _digest(env)
            assert code == 0, output  # the LLM's 401 falls back to offline summaries; the digest still posts
            assert seen and all(LLM_KEY in header for header in seen)  # the key was really used
            # Another channel: the first one's run is done, and a done run is not posted again (no login needed).
            bad_env = {**env, "PAPERBOT_DISCORD_TOKEN": BAD_DISCORD_TOKEN}
            code_bad, output_bad = await _digest(bad_env, f"discord:{OTHER_CHANNEL}")
            assert code_bad != 0, output_bad  # Discord answers 401 to the wrong token
            outgoing = json.dumps([request.body for request in fake.requests], ensure_ascii=False)
            headers = json.dumps([request.headers for request in fake.requests])
    finally:
        await runner.cleanup()
    for secret in (LLM_KEY, VOTE_SALT, BAD_DISCORD_TOKEN):
        assert secret not in output and secret not in output_bad, secret
        assert secret not in outgoing, secret
    assert BAD_DISCORD_TOKEN in headers  # sent where it belongs, and only there
    assert len(fake.messages.get(CHANNEL, {})) == 4


BAD_SLACK_TOKEN = "xoxb-SENTINEL-slack-token-9d41"
SLACK_CHANNEL = "C0SENTINEL"


async def test_a_rejected_slack_token_never_reaches_a_log_line_or_a_message(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    await _seed(url)
    async with running_fake_slack() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        env.update(
            {
                "PAPERBOT_DATABASE_URL": url,
                "PAPERBOT_LOG_LEVEL": "DEBUG",
                "PAPERBOT_VOTE_SALT": VOTE_SALT,
                "PAPERBOT_SLACK_BOT_TOKEN": BAD_SLACK_TOKEN,
                "PAPERBOT_SLACK_API_BASE": fake.base,
            }
        )
        code, output = await _digest(env, f"slack:{SLACK_CHANNEL}")
        calls = list(fake.calls)
    assert code == 2, output  # Slack answers invalid_auth to the wrong token: a configuration error, named
    assert "Slack rejected PAPERBOT_SLACK_BOT_TOKEN: invalid_auth" in output
    assert calls, "the digest never reached the fake Slack"
    outgoing = json.dumps([call.params for call in calls], ensure_ascii=False)
    assert all(call.headers.get("Authorization") == f"Bearer {BAD_SLACK_TOKEN}" for call in calls)  # only there
    for secret in (BAD_SLACK_TOKEN, VOTE_SALT):
        assert secret not in output, secret
        assert secret not in outgoing, secret
    assert not fake.messages(SLACK_CHANNEL)  # nothing was posted with a rejected token
