"""``paperbot run`` with both platforms: Discord failing does not take Slack down (a real process, fake APIs).

Before, a platform whose run loop failed (a command sync's 400, a long 429, an unreachable gateway) made the whole
process exit, so Slack's ``/paper`` went dark with it and every supervisor restart spent one of Discord's 1,000
IDENTIFY a day. Here Discord's API cannot be reached at all, and Slack must keep answering over Socket Mode.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.platforms.slack.fake_api import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.platforms.slack.signed import command_body
from tests.runtime.test_run_process import STARTUP_DEADLINE, free_port, get, paperbot_run

pytestmark = pytest.mark.slow


async def _until(predicate: Callable[[], bool], what: str, deadline: float = STARTUP_DEADLINE) -> None:
    """Poll a condition on the process (its log, its health endpoint) with a generous deadline."""
    async with asyncio.timeout(deadline):
        while True:
            try:
                if predicate():
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")  # pragma: no cover - asyncio.timeout raises first


async def test_slack_keeps_answering_while_discord_fails_and_is_retried(tmp_path: Path, fake: FakeSlack) -> None:
    from urllib.parse import parse_qsl

    port = free_port()
    env = {
        "PAPERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "PAPERBOT_DISCORD_TOKEN": "SENTINEL.discord.token-0f1e2d",
        "PAPERBOT_DISCORD_API_BASE": f"http://127.0.0.1:{free_port()}/api/v10",  # nothing listens there
        "PAPERBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
        "PAPERBOT_SLACK_APP_TOKEN": APP_TOKEN,
        "PAPERBOT_SLACK_API_BASE": fake.base,
        "PAPERBOT_HTTP_PORT": str(port),
    }
    log_path = tmp_path / "both.log"
    with paperbot_run(tmp_path, env, "both") as process:
        await _until(lambda: "platform discord" in log_path.read_text(), "Discord's failure")
        await fake.wait_for(lambda: len(fake.socket_sessions) == 1, deadline=STARTUP_DEADLINE)
        assert process.poll() is None

        payload = dict(parse_qsl(command_body("help", response_url=fake.response_url())))
        envelope = await fake.send_envelope("slash_commands", payload)
        await fake.wait_for(lambda: any(ack["envelope_id"] == envelope for ack in fake.acks))
        [answer] = await fake.wait_for_responses(1, deadline=STARTUP_DEADLINE)
        assert "paperbot 사용법" in answer["text"]

        assert process.poll() is None  # Discord is down and waiting to be started again; nothing else stopped
        assert (await asyncio.to_thread(get, port, "/healthz"))[0] == 200
        assert "starting it again in 60 s" in log_path.read_text()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    assert len(fake.socket_sessions) == 1  # Slack was never restarted
