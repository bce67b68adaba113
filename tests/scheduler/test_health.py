"""``/healthz`` and ``/metrics`` of ``paperbot run``: a platform down and waiting to be retried shows as degraded."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient, TestServer

from paperbot.cli.run import PLATFORM_RESTART_FIRST, _platform
from paperbot.scheduler.health import health, health_routes, make_registry
from paperbot.service.runtime import JobStats, PlatformState
from paperbot.store.memory import InMemoryRepository
from paperbot.web.app import create_app
from tests.web.conftest import web_config

RETRY_AT = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def test_ok_without_platforms_and_while_they_run() -> None:
    assert health(True, {}) == {"status": "ok", "leader": True}
    assert health(False, {"slack": PlatformState("running")}) == {
        "status": "ok",
        "leader": False,
        "platforms": {"slack": {"state": "running"}},
    }


def test_a_platform_waiting_to_be_retried_is_degraded_with_what_and_when() -> None:
    states = {
        "slack": PlatformState("running"),
        "discord": PlatformState("retrying", problem="ConnectError", retry_at=RETRY_AT),
    }
    assert health(True, states) == {
        "status": "degraded",
        "leader": True,
        "platforms": {
            "discord": {"state": "retrying", "problem": "ConnectError", "retry_at": "2026-12-02T18:00:00+00:00"},
            "slack": {"state": "running"},
        },
    }


async def test_healthz_follows_the_supervisor_and_stays_200_for_liveness_probes() -> None:
    stats = JobStats()
    routes = health_routes(make_registry(stats, lambda: True), lambda: True, stats.platforms)
    app = create_app(InMemoryRepository(), web_config(), extra=routes)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        stats.platforms["discord"] = PlatformState("running")
        response = await client.get("/healthz")
        assert response.status == 200 and (await response.json())["status"] == "ok"
        stats.platforms["discord"] = PlatformState("retrying", problem="LoginFailure", retry_at=RETRY_AT)
        response = await client.get("/healthz")
        body = await response.json()
        # 200 while degraded: a restart would not bring Discord back, and each one spends an IDENTIFY.
        assert response.status == 200
        assert body["status"] == "degraded" and body["platforms"]["discord"]["state"] == "retrying"
        metrics = await (await client.get("/metrics")).text()
        assert 'paperbot_platform_up{platform="discord"} 0.0' in metrics
    finally:
        await client.close()


async def test_the_supervisor_reports_running_then_retrying_without_the_error_text() -> None:
    states: dict[str, PlatformState] = {}
    failing = asyncio.Event()

    async def start() -> None:
        await failing.wait()
        raise RuntimeError("login failed for token SENTINEL-abc")

    task = asyncio.create_task(_platform("discord", start, states))
    try:
        await asyncio.sleep(0)
        assert states["discord"] == PlatformState("running")
        before = datetime.now(UTC)
        failing.set()
        for _ in range(100):
            await asyncio.sleep(0)
            if states["discord"].state == "retrying":
                break
        state = states["discord"]
        assert state.state == "retrying" and state.problem == "RuntimeError"
        assert state.retry_at is not None
        assert (state.retry_at - before).total_seconds() >= PLATFORM_RESTART_FIRST - 1
        assert "SENTINEL" not in json.dumps(health(True, states))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
