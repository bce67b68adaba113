"""Issue 14, finding 10: ``paperbot db downgrade`` asks before dropping tables, ``db current`` never creates a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperbot.cli import cli
from paperbot.store import migrate


def _db(url: str, *args: str, stdin: str | None = None) -> Result:
    env = {"PAPERBOT_DATABASE_URL": url, "PAPERBOT_LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(cli, ["db", *args], env=env, input=stdin, catch_exceptions=False)


def test_downgrade_base_without_yes_drops_nothing(sqlite_url: str) -> None:
    head = migrate.status(sqlite_url).head
    refused = _db(sqlite_url, "downgrade", "base")  # no terminal to ask on: --yes is required
    assert refused.exit_code == 2
    assert "--yes" in refused.output
    assert migrate.status(sqlite_url).current == head
    done = _db(sqlite_url, "downgrade", "base", "--yes")
    assert done.exit_code == 0, done.output
    assert migrate.status(sqlite_url).current is None


def test_downgrade_asks_on_a_terminal(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("paperbot.cli.db._interactive", lambda: True)
    answered_no = _db(sqlite_url, "downgrade", "base", stdin="n\n")
    assert "모든 테이블과 데이터가 지워집니다" in answered_no.output
    assert answered_no.exit_code == 1
    assert migrate.status(sqlite_url).current is not None
    answered_yes = _db(sqlite_url, "downgrade", "base", stdin="y\n")
    assert answered_yes.exit_code == 0
    assert migrate.status(sqlite_url).current is None


def test_current_on_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    result = _db(f"sqlite+aiosqlite:///{path}", "current")
    assert result.exit_code == 1
    assert "데이터베이스 파일이 없습니다" in result.output
    assert not path.exists()
    check = _db(f"sqlite+aiosqlite:///{path}", "check")
    assert check.exit_code == 1 and not path.exists()
    nothing = _db(f"sqlite+aiosqlite:///{path}", "downgrade", "base", "--yes")
    assert nothing.exit_code == 0 and not path.exists()
