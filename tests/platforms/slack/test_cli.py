"""``paperbot slack manifest|check|run`` and the checked-in app manifest."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from paperbot.cli import main
from paperbot.platforms.slack.manifest import BOT_EVENTS, BOT_SCOPES, manifest_yaml
from tests.platforms.slack.fake_api import BOT_TOKEN, FakeSlack, running_fake_slack

ROOT = Path(__file__).resolve().parents[3]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@contextmanager
def fake_slack_in_thread() -> Iterator[FakeSlack]:
    """The fake API on its own event loop in a thread, for CLI commands that run ``asyncio.run`` themselves."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        async with running_fake_slack() as fake:
            holder["fake"], holder["stop"] = fake, asyncio.Event()
            ready.set()
            await holder["stop"].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(10)
        yield holder["fake"]
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        loop.close()


def test_deploy_manifest_is_the_generated_socket_mode_one() -> None:
    text = (ROOT / "deploy" / "slack-app-manifest.yml").read_text(encoding="utf-8")
    assert text == manifest_yaml()
    assert "socket_mode_enabled: true" in text and "command: /paper" in text
    for scope, _ in BOT_SCOPES:
        assert f"- {scope}  #" in text
    for event in BOT_EVENTS:
        assert f"- {event}\n" in text


def test_manifest_for_http_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["slack", "manifest", "--request-url", "https://bot.example.com/slack/events"], capsys)
    assert code == 0 and "socket_mode_enabled: false" in out
    assert out.count("https://bot.example.com/slack/events") == 2  # the command and the events
    code, _, err = run(["slack", "manifest", "--request-url", "http://insecure/slack/events"], capsys)
    assert code == 2 and "https://" in err


def test_check_reports_the_bot(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_slack_in_thread() as fake:
        monkeypatch.setenv("PAPERBOT_SLACK_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("PAPERBOT_SLACK_API_BASE", fake.base)
        code, out, _ = run(["slack", "check"], capsys)
        assert code == 0 and "UBOT0001" in out and "T0TEAM001" in out
        monkeypatch.setenv("PAPERBOT_SLACK_BOT_TOKEN", "xoxb-revoked")
        code, _, err = run(["slack", "check"], capsys)
        assert code == 2 and "invalid_auth" in err
    assert [c.method for c in fake.calls] == ["auth.test", "auth.test"]


def test_run_says_which_token_is_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "APP_TOKEN", "SIGNING_SECRET", "HTTP_PORT"):
        monkeypatch.delenv(f"PAPERBOT_SLACK_{name}", raising=False)
    monkeypatch.setenv("PAPERBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/p.db")
    code, _, err = run(["slack", "run"], capsys)
    assert code == 2 and "PAPERBOT_SLACK_BOT_TOKEN" in err
    monkeypatch.setenv("PAPERBOT_SLACK_BOT_TOKEN", BOT_TOKEN)
    code, _, err = run(["slack", "run"], capsys)
    assert code == 2 and "PAPERBOT_SLACK_APP_TOKEN" in err
    monkeypatch.setenv("PAPERBOT_SLACK_APP_TOKEN", "xoxb-not-an-app-token")
    code, _, err = run(["slack", "run"], capsys)
    assert code == 2 and "xapp-" in err
    code, _, err = run(["slack", "run", "--http"], capsys)
    assert code == 2 and "PAPERBOT_SLACK_SIGNING_SECRET" in err
