"""``paperbot run`` with a source that accepts the connection and never answers and one that drips a byte a second:
the missed digest is still posted, on time, from the stored items (real sockets, a real process, fake Slack)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paperbot.domain import Subscription
from paperbot.service.runtime import slot_day, slot_times
from paperbot.sources.registry import BUILTIN_SOURCES
from paperbot.store import migrate
from tests.conftest import PostgresServer
from tests.platforms.slack.fake_api import running_fake_slack
from tests.runtime import test_run_catch_up as catch_up

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SOURCE_DEADLINE = 3


#: The handlers still running (a connection the client has not given up on yet): cancelled at the end of the test,
#: so no socket outlives its event loop (it would surface as an "unclosed transport" in a later test).
_HANDLERS: set[asyncio.Task[None]] = set()


def _tracked(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> Any:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        _HANDLERS.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()  # the socket is really closed once this returns
            _HANDLERS.discard(task)

    return run


async def _close_handlers() -> None:
    for task in list(_HANDLERS):
        task.cancel()
    await asyncio.gather(*_HANDLERS, return_exceptions=True)


async def _never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request and everything after it, answer nothing; return when the client gives up."""
    while await reader.read(4096):
        pass


async def _drips(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n")
    while True:
        writer.write(b"<")
        await writer.drain()
        await asyncio.sleep(1)


async def test_hanging_and_dripping_sources_do_not_hold_the_digest(
    tmp_path: Path, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = await asyncio.start_server(_tracked(_never_answers), "127.0.0.1", 0)
    drip = await asyncio.start_server(_tracked(_drips), "127.0.0.1", 0)
    hang_port = hang.sockets[0].getsockname()[1]
    drip_port = drip.sockets[0].getsockname()[1]
    lines = [
        f'hf_base_url = "http://127.0.0.1:{hang_port}"',
        "http_retries = 1",
        "http_timeout = 2",
        f"source_deadline = {SOURCE_DEADLINE}",
        "allow_private_networks = true",
    ]
    for spec in BUILTIN_SOURCES:
        if spec.name != "hf_daily":
            lines += ["[[sources]]", f'name = "{spec.name}"', "enabled = false"]
    lines += ["[[sources]]", 'name = "drip"', 'type = "feed"', f'url = "http://127.0.0.1:{drip_port}/feed.xml"']
    config = tmp_path / "stuck.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(catch_up, "_config", lambda _tmp: config)

    now = datetime.now(UTC)
    due = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    subscription = Subscription(platform="slack", channel_id=catch_up.CHANNEL, time=f"{due:%H:%M}", timezone="UTC")
    [slot] = slot_times(subscription, now - timedelta(hours=2), now)
    covered = slot_day(subscription, slot)
    url = await asyncio.to_thread(postgres_server.create_database)
    await asyncio.to_thread(migrate.upgrade, url)
    await catch_up._seed(url, subscription, covered, covered - timedelta(days=1))

    try:
        async with hang, drip, running_fake_slack() as fake:

            async def posted() -> bool:
                return (await catch_up._runs(url, subscription.target)).get(covered.isoformat()) == "done"

            started = time.monotonic()
            process = await catch_up._start(url, fake, tmp_path, "stuck")
            done = await catch_up._wait_until(posted, deadline=90)
            elapsed = time.monotonic() - started
            assert await catch_up._stop([process]) == [0]
            log = await asyncio.to_thread((tmp_path / "stuck.log").read_text)
            assert done, log[-3000:]
            assert len(fake.messages(catch_up.CHANNEL)) == 3  # header + the two stored papers
    finally:
        await _close_handlers()
    failed = [line for line in log.splitlines() if '"source failed"' in line and "deadline exceeded" in line]
    assert sorted(json.loads(line)["source"] for line in failed) == ["drip", "hf_daily"], log[-3000:]
    # Bounded by the source deadline plus start-up, not by the sources: a stuck source would hold it forever.
    assert elapsed < 60
