"""``paperbot search`` end to end on SQLite (the CLI runs migrations, searches, renders, and prints JSON)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner, Result

from paperbot.cli import cli
from paperbot.store import migrate
from paperbot.store.engine import create_engine
from paperbot.store.sql import SqlRepository
from tests.search.corpus import load_corpus


def invoke(url: str, *args: str) -> Result:
    env = {"PAPERBOT_LOG_LEVEL": "WARNING", "PAPERBOT_CONFIG": "", "PAPERBOT_DATABASE_URL": url}
    return CliRunner().invoke(cli, ["search", *args], env=env, catch_exceptions=False)


def loaded_database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'paperbot.db'}"
    migrate.upgrade(url)

    async def load() -> None:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            await load_corpus(repository)
        finally:
            await repository.close()

    asyncio.run(load())
    return url


def test_search_prints_title_day_source_votes_link_and_bullet(tmp_path: Path) -> None:
    result = invoke(loaded_database(tmp_path), "연합학습", "공격", "--limit", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "검색 결과 2건: 연합학습 공격"
    assert (
        lines[2]
        == "1. Exploring the Vulnerabilities of Federated Learning: A Deep Dive into Gradient Inversion Attacks"
    )
    assert lines[3].startswith("   2025-03-17 · hf_daily · HF 추천 ")
    assert lines[3].endswith("· 팀 투표 +0")
    assert lines[4] == "   https://huggingface.co/papers/2503.11514"
    assert lines[5] == "   - 연합 학습에서 공유된 기울기로 개인 데이터를 복원하는 기울기 역전 공격을 분석합니다."


def test_search_json_with_filters(tmp_path: Path) -> None:
    url = loaded_database(tmp_path)
    result = invoke(url, "diffusion", "--json", "--since", "2026-01-01", "--source", "hf_daily")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["query"] == "diffusion"
    assert data["results"]
    assert all(hit["day"] >= "2026-01-01" and hit["source"] == "hf_daily" for hit in data["results"])
    assert {"title", "url", "hf_upvotes", "team_votes", "first_bullet", "match"} <= set(data["results"][0])
    other_source = json.loads(invoke(url, "diffusion", "--json", "--source", "openai_blog").stdout)
    assert other_source["results"] == []


def test_no_results_empty_query_and_bad_since(tmp_path: Path) -> None:
    url = loaded_database(tmp_path)
    none = invoke(url, "qqqzzzxxx")
    assert none.exit_code == 0
    assert none.stdout.strip() == "검색 결과가 없습니다."
    empty = invoke(url)
    assert empty.exit_code == 2
    assert "검색어를 입력해 주세요" in empty.stderr
    bad = invoke(url, "x", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "--since" in bad.stderr


def test_reindex_and_relative_since(tmp_path: Path) -> None:
    url = loaded_database(tmp_path)
    result = invoke(url, "--reindex")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "검색 색인을 다시 만들었습니다: 50건"
    # Every fixture day is in the past; the last 7 days hold nothing.
    assert invoke(url, "diffusion", "--since", "7d").stdout.strip() == "검색 결과가 없습니다."


def test_terminal_control_characters_in_titles_are_removed(tmp_path: Path) -> None:
    from paperbot.domain import Item, ItemKind

    url = f"sqlite+aiosqlite:///{tmp_path / 'evil.db'}"
    migrate.upgrade(url)

    async def load() -> None:
        repository = SqlRepository(create_engine(url), owns_engine=True)
        try:
            await repository.add_item(
                Item(
                    source="hf_daily",
                    external_id="x",
                    kind=ItemKind.PAPER,
                    title="Evil \x1b[31mRed\x1b[0m \u202eTitle",
                    url="https://huggingface.co/papers/x",
                    day=date(2025, 1, 1),
                )
            )
        finally:
            await repository.close()

    asyncio.run(load())
    result = invoke(url, "evil")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "Evil [31mRed[0m Title" in result.stdout
