"""``paperbot run`` processes against one PostgreSQL database and a fake Slack: catch-up after an outage.

Three instances start together after a five-day outage: the missed slot inside the look-back is posted once (each
chunk once), the older ones are recorded as skipped, and a restart posts nothing. Sources point at a closed local
port (no network), so the digest is built from stored items.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paperbot.domain import DigestKind, RunStatus, Subscription
from paperbot.service.runtime import slot_day, slot_times
from paperbot.sources.registry import BUILTIN_SOURCES
from paperbot.store import migrate
from paperbot.store.engine import create_engine
from paperbot.store.sql import SqlRepository
from tests.conftest import PostgresServer
from tests.factories import paper
from tests.platforms.slack.conftest import SIGNING_SECRET
from tests.platforms.slack.fake_api import BOT_TOKEN, FakeSlack, running_fake_slack

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CHANNEL = "C0PAPERS01"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path) -> Path:
    """Every built-in source disabled except HF, which points at a closed port."""
    lines = [f'hf_base_url = "http://127.0.0.1:{free_port()}"', "http_retries = 1", "allow_private_networks = true"]
    for spec in BUILTIN_SOURCES:
        if spec.name != "hf_daily":
            lines += ["[[sources]]", f'name = "{spec.name}"', "enabled = false"]
    path = tmp_path / "paperbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _seed(url: str, subscription: Subscription, covered: object, last_done: object) -> None:
    repository = SqlRepository(create_engine(url), owns_engine=True)
    try:
        await repository.save_subscription(subscription)
        await repository.add_items([paper(n, day=covered, title=f"Paper {n}") for n in range(2)])  # type: ignore[arg-type]
        run = await repository.claim_run(subscription.target, DigestKind.DAILY, last_done)  # type: ignore[arg-type]
        assert run.value.id is not None
        await repository.set_run_status(run.value.id, RunStatus.DONE)
    finally:
        await repository.close()


async def _runs(url: str, target: str) -> dict[str, str]:
    repository = SqlRepository(create_engine(url), owns_engine=True)
    try:
        found: dict[str, str] = {}
        before = None
        while (run := await repository.last_run(target, DigestKind.DAILY, before=before)) is not None:
            found[run.day.isoformat()] = run.status.value
            before = run.day
        return found
    finally:
        await repository.close()


async def _start(url: str, fake: FakeSlack, tmp_path: Path, name: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env.update(
        {
            "PAPERBOT_DATABASE_URL": url,
            "PAPERBOT_CONFIG": str(_config(tmp_path)),
            "PAPERBOT_SLACK_BOT_TOKEN": BOT_TOKEN,
            "PAPERBOT_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "PAPERBOT_SLACK_HTTP_PORT": str(free_port()),
            "PAPERBOT_SLACK_API_BASE": fake.base,
            # Long enough that a leader busy importing and summarising on a loaded 2-core machine still renews.
            "PAPERBOT_LEASE_TTL": "20",
            "PAPERBOT_LOG_LEVEL": "DEBUG",
        }
    )
    log = (tmp_path / f"{name}.log").open("w")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "paperbot", "run", cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    finally:
        log.close()


async def _wait_until(predicate: object, deadline: float) -> bool:
    assert callable(predicate)
    end = asyncio.get_running_loop().time() + deadline
    while asyncio.get_running_loop().time() < end:
        if await predicate():
            return True
        await asyncio.sleep(0.3)
    return False


async def _stop(processes: list[asyncio.subprocess.Process]) -> list[int]:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    return [await asyncio.wait_for(process.wait(), timeout=30) for process in processes]


async def test_five_day_outage_three_instances_post_the_look_back_slot_once(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    now = datetime.now(UTC)
    due = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    subscription = Subscription(platform="slack", channel_id=CHANNEL, time=f"{due:%H:%M}", timezone="UTC")
    [slot] = slot_times(subscription, now - timedelta(hours=2), now)
    covered = slot_day(subscription, slot)
    url = await asyncio.to_thread(postgres_server.create_database)
    await asyncio.to_thread(migrate.upgrade, url)
    await _seed(url, subscription, covered, covered - timedelta(days=5))

    async with running_fake_slack() as fake:

        async def all_runs_settled() -> bool:
            runs = await _runs(url, subscription.target)
            return runs.get(covered.isoformat()) == "done"

        processes = [await _start(url, fake, tmp_path, f"run{i}") for i in range(3)]
        settled = await _wait_until(all_runs_settled, deadline=90)
        codes = await _stop(processes)
        logs = "\n".join((tmp_path / f"run{i}.log").read_text() for i in range(3))
        assert settled, logs[-3000:]
        assert codes == [0, 0, 0], logs[-3000:]
        posted = fake.messages(CHANNEL)
        first_count = len(posted)
        assert first_count >= 2  # the header and the papers (thread replies included in the channel's list or not)
        texts = [message.text for message in posted]
        assert len(texts) == len(set(texts))  # no chunk twice

        runs = await _runs(url, subscription.target)
        skipped = [(covered - timedelta(days=n)).isoformat() for n in range(1, 5)]
        assert {day: runs[day] for day in skipped} == dict.fromkeys(skipped, "skipped")
        assert BOT_TOKEN not in logs and SIGNING_SECRET not in logs

        # A second restart posts nothing again.
        again = [await _start(url, fake, tmp_path, "again")]
        await _wait_until(lambda: _leading(tmp_path / "again.log"), deadline=60)
        assert await _stop(again) == [0]
        assert len(fake.messages(CHANNEL)) == first_count


async def _leading(log: Path) -> bool:
    text = await asyncio.to_thread(log.read_text)
    return "is the leader" in text and "starting the scheduler" in text
