"""The CLI as users run it: a real subprocess, exit codes, one-line errors, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paperbot import __version__
from tests.conftest import PostgresServer


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "paperbot", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"paperbot, version {__version__}"


def test_help_lists_commands_without_loading_heavy_modules(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from paperbot.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'alembic', 'discord', 'slack_bolt', 'slack_sdk', 'httpx', 'kiwipiepy', 'aiohttp', 'jinja2'} "
        "or m == 'paperbot.store.models')\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "db" in result.stdout
    assert "digest" in result.stdout
    assert "HEAVY []" in result.stdout


def test_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run("db", "upgrade", cwd=tmp_path, env={"PAPERBOT_DATABASE_URL": "nonsense"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "PAPERBOT_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "nonsense").exists()


def test_unreachable_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = run("db", "current", cwd=tmp_path, env={"PAPERBOT_DATABASE_URL": "sqlite:////nonexistent-dir/sub/x.db"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _db_cycle(tmp_path: Path, url: str) -> None:
    env = {"PAPERBOT_DATABASE_URL": url, "PAPERBOT_LOG_FORMAT": "text"}
    first = run("db", "upgrade", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "base → " in first.stdout
    again = run("db", "upgrade", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "이미 최신" in again.stdout
    check = run("db", "check", cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stderr
    assert "drift 없음" in check.stdout
    current = run("db", "current", cwd=tmp_path, env=env)
    assert "(최신)" in current.stdout
    down = run("db", "downgrade", "base", "--yes", cwd=tmp_path, env=env)
    assert down.returncode == 0, down.stderr
    behind = run("db", "check", cwd=tmp_path, env=env)
    assert behind.returncode == 1
    assert "paperbot db upgrade" in behind.stderr


def test_db_commands_on_default_sqlite_file(tmp_path: Path) -> None:
    result = run("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "paperbot.db").exists()  # the embedded default lives in the working directory
    _db_cycle(tmp_path, f"sqlite:///{tmp_path / 'cycle.db'}")


@pytest.mark.postgres
def test_db_commands_on_postgres(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database().replace("postgresql+asyncpg://", "postgresql://")
    _db_cycle(tmp_path, url)
