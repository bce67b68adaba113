"""``paperbot web`` and ``paperbot run`` serving the archive, as real processes on the embedded defaults."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.runtime.test_run_process import STARTUP_DEADLINE, free_port, get, is_leader, paperbot_run, wait_for

pytestmark = pytest.mark.slow


@contextmanager
def paperbot_web(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    clean.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "paperbot", "web", *args],
        cwd=cwd,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_paperbot_web_on_the_embedded_defaults(tmp_path: Path) -> None:
    """A fresh directory, no settings at all (what ``make digest`` leaves, minus the data): SQLite ./paperbot.db is
    created and migrated, the archive answers on 127.0.0.1, and SIGTERM stops it with exit 0."""
    port = free_port()
    with paperbot_web(tmp_path, "--port", str(port)) as process:
        wait_for(lambda: get(port, "/healthz")[0] == 200, deadline=STARTUP_DEADLINE, what="paperbot web to answer")
        status, body = get(port, "/")
        assert status == 200
        assert "아직 모인 글이 없습니다" in body
        assert get(port, "/search?q=%EB%AA%A8%EB%8D%B8")[0] == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}/" in stderr
    assert "웹 아카이브를 멈췄습니다." in stderr
    assert (tmp_path / "paperbot.db").exists()
    with socket.socket() as probe:  # it listened on loopback only
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_paperbot_web_serves_a_seeded_database_with_a_token(tmp_path: Path) -> None:
    from paperbot.store import migrate
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository
    from tests.web.seed import seed

    url = f"sqlite+aiosqlite:///{tmp_path / 'seeded.db'}"
    migrate.upgrade(url)

    async def fill() -> None:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            await seed(repository)
        finally:
            await repository.close()

    asyncio.run(fill())
    port = free_port()
    env = {
        "PAPERBOT_DATABASE_URL": url,
        "PAPERBOT_WEB_TOKEN": "a-long-enough-test-token",
        "PAPERBOT_HTTP_PORT": str(port),
    }
    with paperbot_web(tmp_path, env=env) as process:
        wait_for(lambda: get(port, "/healthz")[0] == 200, deadline=STARTUP_DEADLINE, what="paperbot web to answer")
        assert get(port, "/")[0] == 401
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/day/2025-05-22", headers={"Authorization": "Bearer a-long-enough-test-token"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our own http://127.0.0.1 URL
            assert response.status == 200
            assert "Web-Shepherd" in response.read().decode()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
        assert process.returncode == 0


def test_paperbot_web_says_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "paperbot", "web", "--port", str(port)],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"paperbot: 127.0.0.1:{port} 에서 열 수 없습니다")
    assert "Traceback" not in result.stderr


def test_paperbot_run_serves_the_archive_beside_health_and_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {"PAPERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "PAPERBOT_HTTP_PORT": str(port)}
    with paperbot_run(tmp_path, env, "archive") as process:
        wait_for(lambda: is_leader(port), deadline=STARTUP_DEADLINE, what="the instance to lead")
        status, body = get(port, "/")
        assert status == 200 and "paperbot 아카이브" in body
        assert get(port, "/sources")[0] == 200
        status, metrics = get(port, "/metrics")
        assert status == 200 and "paperbot_leader 1.0" in metrics
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
