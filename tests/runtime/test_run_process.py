"""``paperbot run`` as a real process: health and metrics, clean SIGTERM, and leader takeover on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PostgresServer

pytestmark = pytest.mark.slow

STARTUP_DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for(predicate: object, *, deadline: float, what: str) -> None:
    assert callable(predicate)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def is_leader(port: int) -> bool:
    status, body = get(port, "/healthz")
    return status == 200 and json.loads(body)["leader"] is True


@contextmanager
def paperbot_run(tmp_path: Path, env: dict[str, str], name: str) -> Iterator[subprocess.Popen[str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    clean.update({"PAPERBOT_LOG_FORMAT": "json", **env})
    log = (tmp_path / f"{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "paperbot", "run"], cwd=tmp_path, env=clean, stdout=log, stderr=log, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()


def test_health_metrics_and_a_clean_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {"PAPERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PAPERBOT_HTTP_PORT": str(port)}
    with paperbot_run(tmp_path, env, "one") as process:
        wait_for(lambda: is_leader(port), deadline=STARTUP_DEADLINE, what="the only instance to lead")
        status, metrics = get(port, "/metrics")
        assert status == 200
        assert "paperbot_leader 1.0" in metrics
        assert "paperbot_items_collected_total 0.0" in metrics
        assert get(port, "/nope")[0] == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    log = (tmp_path / "one.log").read_text()
    assert "stopping (signal)" in log
    assert all(json.loads(line) for line in log.splitlines() if line.strip())  # JSON logs when not on a TTY


@pytest.mark.postgres
def test_standby_takes_over_when_the_leader_is_killed(tmp_path: Path, postgres_server: PostgresServer) -> None:
    from paperbot.store import migrate

    url = postgres_server.create_database()
    migrate.upgrade(url)
    ports = free_port(), free_port()
    base = {"PAPERBOT_DATABASE_URL": url, "PAPERBOT_LEASE_TTL": "3"}
    with (
        paperbot_run(tmp_path, {**base, "PAPERBOT_HTTP_PORT": str(ports[0])}, "a") as first,
        paperbot_run(tmp_path, {**base, "PAPERBOT_HTTP_PORT": str(ports[1])}, "b") as second,
    ):
        wait_for(
            lambda: get(ports[0], "/healthz")[0] == 200 and get(ports[1], "/healthz")[0] == 200,
            deadline=STARTUP_DEADLINE,
            what="both instances to answer",
        )
        wait_for(lambda: is_leader(ports[0]) or is_leader(ports[1]), deadline=10, what="a leader")
        leader, standby = (first, ports[1]) if is_leader(ports[0]) else (second, ports[0])
        assert not is_leader(standby)  # exactly one leader
        leader.send_signal(signal.SIGKILL)  # no release: the standby must wait for the lease to expire
        leader.wait(timeout=30)
        wait_for(lambda: is_leader(standby), deadline=3 * 3 + 10, what="the standby to take over")
        survivor = second if standby == ports[1] else first
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0


def test_a_failing_platform_is_retried_while_the_rest_keeps_running_and_the_token_is_never_logged(
    tmp_path: Path,
) -> None:
    """A platform that fails (here: Discord's API unreachable) no longer exits the process: that took the other
    platform, the scheduler and the web archive down, and each supervisor restart spent a Discord IDENTIFY."""
    sentinel = "SENTINEL.discord.token-0f1e2d"
    port = free_port()
    env = {
        "PAPERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "PAPERBOT_DISCORD_TOKEN": sentinel,
        "PAPERBOT_DISCORD_API_BASE": f"http://127.0.0.1:{free_port()}/api/v10",  # nothing listens there
        "PAPERBOT_LOG_LEVEL": "DEBUG",
        "PAPERBOT_HTTP_PORT": str(port),
    }
    log_path = tmp_path / "broken.log"
    with paperbot_run(tmp_path, env, "broken") as process:
        wait_for(lambda: "platform discord" in log_path.read_text(), deadline=STARTUP_DEADLINE, what="the failure")
        assert process.poll() is None  # still running
        status, body = get(port, "/healthz")
        assert status == 200  # alive: a liveness probe must not restart it for a platform that is down
        health = json.loads(body)
        assert health["status"] == "degraded"
        assert health["platforms"]["discord"]["state"] == "retrying" and "retry_at" in health["platforms"]["discord"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    log = log_path.read_text()
    assert "starting it again in 60 s" in log
    assert sentinel not in log
