"""``paperbot summarize`` and ``paperbot eval summaries`` end to end (SQLite, local fake LLM, synthetic references)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from paperbot.cli import cli
from paperbot.domain import Item, Summary
from tests.summarize.conftest import DATA, GOOD_BULLETS, paper
from tests.summarize.fake_llm import Reply, fake_llm, openai_bullets

REFERENCES = DATA / "references.jsonl"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    base = {"PAPERBOT_LOG_LEVEL": "WARNING", "PAPERBOT_CONFIG": "", "PAPERBOT_LLM_PROVIDER": "offline"}
    return CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, catch_exceptions=False)


def test_eval_offline_on_synthetic_references() -> None:
    result = invoke("eval", "summaries", "--references", str(REFERENCES), "--backend", "offline")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("synthetic-")) == 4
    assert "게이트 통과 4편, 실패 0편" in result.stdout
    assert "ROUGE F1 (형태소, 전체)" in result.stdout
    assert "LLM 요청" not in result.stdout  # no LLM, no answers to account for


def test_eval_json() -> None:
    result = invoke(
        "eval", "summaries", "--references", str(REFERENCES), "--backend", "offline", "--json", "--limit", "2"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["aggregate"]["papers"] == 2 and data["aggregate"]["gate_failed"] == 0
    first = data["papers"][0]
    assert first["id"] == "synthetic-0001" and first["gate_ok"] and first["flags"] == []
    assert 0 < first["rouge"]["rouge1"] <= 1
    assert set(first["rouge"]) == {"rouge1", "rouge2", "rougeL", "mean"}


def test_eval_exits_non_zero_when_a_gate_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unchecked:
        backend = "openai_compat"
        model = "raw"
        daily_budget_usd = None

        async def summarize(self, item: Item) -> Summary:
            return Summary(item.id or 0, ("Not Korean at all.",), "openai_compat", "raw", "v", "h")

    monkeypatch.setattr("paperbot.summarize.registry.build_summarizer", lambda *args: Unchecked())
    result = invoke("eval", "summaries", "--references", str(REFERENCES), "--limit", "1")
    assert result.exit_code == 1
    assert "실패 1편" in result.stdout


def test_eval_rejects_a_bad_references_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "title": "t"}\n', encoding="utf-8")
    result = invoke("eval", "summaries", "--references", str(bad))
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.stderr


def _seed(url: str, items: list[Item]) -> None:
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    async def run() -> None:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        await repository.add_items(items)
        await repository.close()

    asyncio.run(run())


def test_summarize_offline_then_nothing_left(sqlite_url: str) -> None:
    _seed(sqlite_url, [paper(item_id=None), paper(item_id=None, external_id="2412.00001", abstract="")])
    env = {"PAPERBOT_DATABASE_URL": sqlite_url}
    first = invoke("summarize", env=env)
    assert first.exit_code == 0, first.output
    assert "2건 요약" in first.stdout and "오프라인 모드" in first.stdout
    again = invoke("summarize", "--json", env=env)
    assert json.loads(again.stdout)["pending"] == 0


def test_summarize_with_an_llm_records_cost(sqlite_url: str) -> None:
    _seed(sqlite_url, [paper(item_id=None)])

    def script(body: dict[str, Any], attempt: int) -> Reply:
        return Reply(body=openai_bullets(GOOD_BULLETS))

    with fake_llm(script) as server:
        env = {
            "PAPERBOT_DATABASE_URL": sqlite_url,
            "PAPERBOT_LLM_PROVIDER": "openai_compat",
            "PAPERBOT_LLM_BASE_URL": server.url,
            "PAPERBOT_LLM_MODEL": "gpt-4o-mini",
            "PAPERBOT_LLM_API_KEY": "sk-test",
            "PAPERBOT_LLM_DAILY_BUDGET_USD": "1",
        }
        result = invoke("summarize", "--json", "--date", "2024-12-01", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["llm"] == 1 and data["tokens_in"] == 100 and data["cost_usd"] > 0
    assert not data["offline_mode"] and data["model"] == "gpt-4o-mini"
