"""``paperbot run`` loads Kiwi before its event loop starts, when it is configured (issue 16).

Kiwi holds the GIL while its model loads (2-7 s; kiwipiepy's constructor and first ``tokenize`` are C++ that do not
release it), so loading it in a worker thread stalled the loop as much: bench/bench_loop.py measured 1.5-4 s with
``search_analyzer = "kiwi"``. Here ``korean.load`` / ``korean.kiwi`` are replaced by recorders that note whether
an event loop was running, and ``run_app`` (which starts the loop) by a stub that notes when it was reached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from paperbot import korean
from paperbot.cli import run as run_command


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []

    def loop_state() -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return "no loop"
        return "on the loop"

    def load() -> str:
        seen.append(f"search analyser loaded ({loop_state()})")
        return "kiwi"

    def kiwi() -> object:
        seen.append(f"kiwi loaded ({loop_state()})")
        return object()

    def run_app(ctx: Any, main: Any, **overrides: Any) -> int:
        seen.append("loop started")
        return 0

    monkeypatch.setattr(korean, "load", load)
    monkeypatch.setattr(korean, "kiwi", kiwi)
    monkeypatch.setattr(run_command, "run_app", run_app)
    for name in ("PAPERBOT_HTTP_PORT", "PAPERBOT_DISCORD_TOKEN", "PAPERBOT_SLACK_BOT_TOKEN", "PAPERBOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield seen
    finally:
        korean.configure(search_analyzer="fallback")


def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, **env: str) -> None:
    monkeypatch.chdir(tmp_path)  # no paperbot.toml of the working directory
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(run_command.run, [], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_kiwi_for_search_loads_before_the_event_loop(
    calls: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    invoke(monkeypatch, tmp_path, PAPERBOT_SEARCH_ANALYZER="kiwi")
    assert calls == ["search analyser loaded (no loop)", "loop started"]


def test_kiwi_for_the_llm_endings_loads_before_the_event_loop(
    calls: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    invoke(
        monkeypatch,
        tmp_path,
        PAPERBOT_SUMMARY_ENDINGS="kiwi",
        PAPERBOT_LLM_PROVIDER="openai_compat",
        PAPERBOT_LLM_MODEL="gpt-4o-mini",
    )
    assert calls == ["kiwi loaded (no loop)", "loop started"]


def test_the_defaults_load_no_kiwi(calls: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    invoke(monkeypatch, tmp_path)
    assert calls == ["loop started"]
    assert korean.analyzer_name() == "fallback"
