"""``paperbot digest`` end to end: seeded SQLite (--no-collect), and collection from a local HF server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperbot.cli import cli
from paperbot.domain import Vote
from paperbot.sources.registry import BUILTIN_SOURCES
from tests.digest.helpers import GOLDEN_DAY, check_discord_payload, check_slack_payload, golden_items, post, summary
from tests.sources.helpers import HF
from tests.sources.localserver import LocalServer, Reply, local_server


async def _seed(url: str) -> None:
    from dataclasses import replace

    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository

    repository = SqlRepository(create_engine(url), owns_engine=True)
    try:
        items, summaries = golden_items()
        ids: dict[str, int] = {}
        for item in items:  # in the seed's order, as the collector stores the HF API's order
            stored = await repository.add_item(replace(item, id=None))
            assert stored.value.id is not None
            ids[item.external_id] = stored.value.id
            old = summaries[item.id or 0]
            await repository.add_summary(replace(old, item_id=stored.value.id))
        blog = await repository.add_item(post("p1", title="Hello <@everyone> *world*", extra={"publisher": "OpenAI"}))
        assert blog.value.id is not None
        await repository.add_summary(summary(blog.value.id, ("블로그 요약 @here",)))
        # Channel 42 likes BLINK: 3 + 3×2 = 9 > Reka's 5.
        for voter in ("a", "b"):
            await repository.add_vote(Vote("discord", "m1", voter, "👍", 1, channel_id="42", item_id=ids["2404.12390"]))
    finally:
        await repository.close()


@pytest.fixture
def seeded(sqlite_url: str) -> str:
    asyncio.run(_seed(sqlite_url))
    return sqlite_url


def run(url: str, *args: str, config: Path | None = None) -> Result:
    env = {"PAPERBOT_DATABASE_URL": url, "PAPERBOT_LOG_LEVEL": "WARNING", "PAPERBOT_CONFIG": str(config or "")}
    if config is None:
        env.pop("PAPERBOT_CONFIG")
    return CliRunner().invoke(cli, ["digest", *args], env=env, catch_exceptions=False)


def test_markdown_from_the_seeded_database(seeded: str) -> None:
    result = run(seeded, "--date", "2024-04-19", "--no-collect", "--to", "markdown")
    assert result.exit_code == 0, result.output
    text = result.stdout
    # Without a channel every team vote counts: BLINK (3 + 3×2) comes before Reka (5).
    assert text.startswith("## Daily Papers (2024-04-19)\n\n### [BLINK: Multimodal")
    assert "선정 이유: HF 추천 3표 · 9편 중 1위 · 팀 투표 +2\n" in text
    assert text.count("\n### [") == 10  # nine papers and the blog post
    assert "Vote: 5\n\nAuthors: Nishant Relan" in text
    assert (
        "\n## 블로그 새 글\n\n### [Hello \\<@everyone\\> \\*world\\*](https://example.com/blog/p1) (2024.04.19, OpenAI)"
        in text
    )
    assert "오프라인" not in text


def test_console_is_the_default(seeded: str) -> None:
    result = run(seeded, "--date", "2024-04-19", "--no-collect")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("📚 Daily Papers (2024-04-19)\n논문 9편 · 블로그 새 글 1편\n")
    assert "2. Reka Core, Flash, and Edge" in result.stdout


def test_discord_dry_run_prints_payloads_ranked_with_the_channel_votes(seeded: str) -> None:
    result = run(seeded, "--date", "2024-04-19", "--no-collect", "--to", "discord:42", "--dry-run")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["target"] == "discord:42" and data["day"] == "2024-04-19"
    messages = data["messages"]
    assert len(messages) == 11 and messages[0]["item_id"] is None
    for message in messages:
        check_discord_payload(message["payload"])
    first = messages[1]["payload"]["embeds"][0]
    assert first["title"].startswith("BLINK")
    assert {"name": "🗳️ 팀 투표", "value": "+2", "inline": True} in first["fields"]


def test_slack_dry_run_prints_valid_block_kit(seeded: str) -> None:
    result = run(seeded, "--date", "2024-04-19", "--no-collect", "--to", "slack:C0123ABC", "--dry-run")
    assert result.exit_code == 0, result.output
    messages = json.loads(result.stdout)["messages"]
    assert messages[0]["payload"]["blocks"][0]["type"] == "header"
    assert all(m.get("thread") for m in messages[1:])
    for message in messages:
        check_slack_payload(message["payload"])


def test_posting_to_discord_without_a_token_fails_in_one_line(seeded: str) -> None:
    result = run(seeded, "--no-collect", "--to", "discord:42")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "PAPERBOT_DISCORD_TOKEN" in result.stderr


@pytest.mark.parametrize("target", ["discord:abc", "teams:1", "slack:"])
def test_bad_targets_are_refused(seeded: str, target: str) -> None:
    result = run(seeded, "--no-collect", "--to", target, "--dry-run")
    assert result.exit_code == 2
    assert "discord:CHANNEL_ID" in result.stderr


def test_an_empty_day_says_so_in_one_line(seeded: str) -> None:
    result = run(seeded, "--date", "2024-04-20", "--no-collect", "--to", "markdown")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "## Daily Papers (2024-04-20)\n\n2024-04-20(토)은 주말이라 HF Daily Papers에 올라온 논문도, 새 블로그 글도 없습니다.\n"
    )


def test_weekly_groups_by_topic(seeded: str) -> None:
    result = run(seeded, "--date", "2024-04-21", "--kind", "weekly", "--no-collect", "--to", "markdown")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## Weekly Best Papers (2024-04-15 ~ 2024-04-21)\n\n### Red Teaming\n\n")
    assert "### Multimodal\n\n1. [BLINK: Multimodal" in result.stdout
    assert "2. [Reka Core" in result.stdout


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        running.route("/api/daily_papers", Reply(body=(HF / "2025-01-13.json").read_bytes()))
        yield running


def test_collects_summarises_offline_and_prints_a_real_digest(tmp_path: Path, server: LocalServer) -> None:
    lines = [f'hf_base_url = "{server.base}"', "allow_private_networks = true", "http_host_interval = 0"]
    for spec in BUILTIN_SOURCES:
        if spec.name != "hf_daily":  # no internet in tests: only the local HF server
            lines += ["[[sources]]", f'name = "{spec.name}"', "enabled = false"]
    config = tmp_path / "paperbot.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path}/paperbot.db"
    result = run(url, "--date", "2025-01-13", "--to", "markdown", config=config)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("## Daily Papers (2025-01-13)\n\n> 요약은 LLM 없이 오프라인 모드로 만들었습니다")
    assert text.count("\n### [") == 5
    assert "](https://arxiv.org/abs/2501.05874)" in text
    assert "수집: 새 항목 5개" in result.stderr
    assert date(2025, 1, 13) != GOLDEN_DAY


def _offline_config(tmp_path: Path, server: LocalServer) -> Path:
    """HF and one blog on a local server that is down (500s); built-in blogs off (no internet in tests)."""
    lines = [
        f'hf_base_url = "{server.base}"',
        "allow_private_networks = true",
        "http_host_interval = 0",
        "http_retries = 1",
    ]
    for spec in BUILTIN_SOURCES:
        if spec.name != "hf_daily":
            lines += ["[[sources]]", f'name = "{spec.name}"', "enabled = false"]
    lines += ["[[sources]]", 'name = "local_blog"', 'type = "feed"', f'url = "{server.base}/feed.xml"']
    config = tmp_path / "paperbot.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_offline_is_not_a_holiday_every_source_failed_exits_3(tmp_path: Path) -> None:
    """Issue 14, finding 11: with every source unreachable, the digest said "휴일이거나 아직 수집 전일 수
    있습니다" and exited 0, and chat digests said "블로그 새 글 0편". Now the failed sources are named on stderr and
    in the digest, and the exit status is 3 so cron can tell."""
    from paperbot.cli.digest import EXIT_ALL_SOURCES_FAILED

    with local_server() as down:
        down.route("/api/daily_papers", Reply(500, b"unavailable"))
        down.route("/feed.xml", Reply(503, b"unavailable"))
        config = _offline_config(tmp_path, down)
        url = f"sqlite+aiosqlite:///{tmp_path}/paperbot.db"
        console = run(url, "--date", "2025-01-13", config=config)
        dry_run = run(url, "--date", "2025-01-13", "--to", "discord:42", "--dry-run", config=config)
    assert EXIT_ALL_SOURCES_FAILED == 3
    assert console.exit_code == 3, console.output
    assert "휴일" not in console.stdout
    assert "가져오지 못한 출처 2곳: hf_daily, local_blog" in console.stdout
    assert "실패한 출처 2곳" in console.stderr
    assert "  - hf_daily: API: HTTP 500 from" in console.stderr
    assert "  - local_blog: HTTP 503 from" in console.stderr
    assert "모든 출처(2곳)를 가져오지 못했습니다" in console.stderr
    assert dry_run.exit_code == 3
    header = json.loads(dry_run.stdout)["messages"][0]["payload"]
    check_discord_payload(header)
    assert "가져오지 못한 출처 2곳: hf\\_daily, local\\_blog" in header["content"]


def test_one_failed_source_is_named_but_the_exit_status_stays_0(tmp_path: Path, server: LocalServer) -> None:
    server.route("/feed.xml", Reply(503, b"unavailable"))
    config = _offline_config(tmp_path, server)
    result = run(f"sqlite+aiosqlite:///{tmp_path}/paperbot.db", "--date", "2025-01-13", config=config)
    assert result.exit_code == 0, result.output
    assert "가져오지 못한 출처 1곳: local_blog" in result.stdout
    assert "  - local_blog: HTTP 503 from" in result.stderr


def test_the_help_documents_the_exit_statuses() -> None:
    result = CliRunner().invoke(cli, ["digest", "--help"])
    assert "3 every source failed to collect" in " ".join(result.output.split())
