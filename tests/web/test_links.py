"""Chat messages link to the archive when PAPERBOT_WEB_BASE_URL is set: the digest to its day ("전체 26편 보기"),
``/paper search`` replies to the search page. Without the setting nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from paperbot.config import Settings
from paperbot.digest import links
from paperbot.digest.render.console import render_console
from paperbot.digest.render.discord import render_discord
from paperbot.digest.render.markdown import render_markdown
from paperbot.digest.render.slack import render_slack
from paperbot.domain import DigestKind
from paperbot.errors import ConfigError
from paperbot.service import commands
from paperbot.service.digest import build_digest
from paperbot.store.memory import InMemoryRepository
from tests.digest.helpers import check_discord_payload, check_slack_payload
from tests.web.seed import CROWDED_DAY, seed

BASE = "https://papers.example.com/team"
DAY_URL = f"{BASE}/day/2025-05-22"


@pytest.fixture
async def memory() -> InMemoryRepository:
    repository = InMemoryRepository()
    await seed(repository)
    return repository


async def test_the_daily_digest_links_to_every_paper_of_its_day(memory: InMemoryRepository) -> None:
    digest = await build_digest(memory, day=CROWDED_DAY, target="discord:111", archive_base_url=BASE)
    assert digest.total_papers == 26
    assert len([e for e in digest.entries if e.item.kind.value == "paper"]) == 10
    assert digest.archive_url == DAY_URL
    header = render_discord(digest)[0].payload
    check_discord_payload(header)
    assert f"[전체 26편 보기](<{DAY_URL}>)" in header["content"]
    slack_header = render_slack(digest)[0].payload
    check_slack_payload(slack_header)
    assert {"type": "mrkdwn", "text": f":card_index_dividers: <{DAY_URL}|전체 26편 보기>", "verbatim": True} in [
        element for block in slack_header["blocks"] if block["type"] == "context" for element in block["elements"]
    ]
    assert f"[전체 26편 보기]({DAY_URL})" in render_markdown(digest)
    assert f"전체 26편 보기: {DAY_URL}" in render_console(digest)


async def test_the_weekly_digest_links_to_its_week(memory: InMemoryRepository) -> None:
    digest = await build_digest(memory, day=CROWDED_DAY, kind=DigestKind.WEEKLY, archive_base_url=BASE)
    assert digest.archive_url == f"{BASE}/week/2025-W21"
    assert f"[이번 주 전체 보기](<{BASE}/week/2025-W21>)" in render_discord(digest)[0].payload["content"]


async def test_without_a_base_url_the_digest_is_unchanged(memory: InMemoryRepository) -> None:
    plain = await build_digest(memory, day=CROWDED_DAY, target="discord:111")
    assert plain.archive_url is None
    for text in (render_discord(plain)[0].payload["content"], render_markdown(plain), render_console(plain)):
        assert "전체" not in text and "example.com/team" not in text
    assert all(block["type"] != "context" for block in render_slack(plain)[0].payload["blocks"])


async def test_search_replies_link_to_the_search_page(memory: InMemoryRepository) -> None:
    from paperbot.platforms.discord.render import reply_messages
    from paperbot.platforms.slack.render import reply_payload

    caller = commands.Caller(platform="slack", channel_id="C222")
    query = "언어 모델 & <b>|x"
    reply = await commands.search(commands.CommandContext(memory, web_base_url=BASE), caller, query)
    assert reply.papers
    url = f"{BASE}/search?q=%EC%96%B8%EC%96%B4+%EB%AA%A8%EB%8D%B8+%26+%3Cb%3E%7Cx"
    assert reply.link == ("웹에서 모든 결과 보기", url)
    first = reply_messages(reply)[0]
    assert f"🔗 [웹에서 모든 결과 보기](<{url}>)" in first["content"]
    payload = reply_payload(reply)
    check_slack_payload(payload)
    assert payload["blocks"][-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"🔗 <{url}|웹에서 모든 결과 보기>", "verbatim": True}],
    }
    plain = await commands.search(commands.CommandContext(memory), caller, query)
    assert plain.link is None
    assert "🔗" not in reply_messages(plain)[0]["content"]
    assert all(block["type"] != "context" or "🔗" not in str(block) for block in reply_payload(plain)["blocks"])
    nothing = await commands.search(commands.CommandContext(memory, web_base_url=BASE), caller, "zzzyxqqq")
    assert nothing.link is None


def test_paths_and_weeks() -> None:
    from datetime import date

    assert links.week_label(date(2025, 5, 22)) == "2025-W21"
    assert links.week_label(date(2024, 12, 30)) == "2025-W01"  # ISO weeks cross the new year
    assert links.parse_week("2025-W21") == date(2025, 5, 19)
    assert links.parse_week("2020-W53") == date(2020, 12, 28)
    for bad in ("2025-W54", "2025-W00", "2025-21", "W21", "2025-W1", "2025-w21 "):
        with pytest.raises(ValueError, match="ISO week"):
            links.parse_week(bad)
    assert links.search_path("a b", since="7d", source=None, page=2) == "/search?q=a+b&since=7d&page=2"
    assert links.absolute(None, "/x") is None
    assert links.absolute("https://a.example/", "/x") == "https://a.example/x"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://papers.example.com/", "https://papers.example.com"),
        ("http://127.0.0.1:8080/archive", "http://127.0.0.1:8080/archive"),
        ("  ", None),
    ],
)
def test_web_base_url_is_normalised(value: str, expected: str | None) -> None:
    assert Settings(web_base_url=value).web_base_url == expected


@pytest.mark.parametrize(
    "value",
    [
        "papers.example.com",
        "javascript:alert(1)",
        "ftp://x.example",
        "https://x.example/?a=1",
        "https://x.example/#f",
        'https://x.example/"><b>',
        "https://x.example/a b",
        "https://x.example/a|b",
    ],
)
def test_bad_web_base_urls_are_refused(value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from paperbot.config import load_settings

    monkeypatch.setenv("PAPERBOT_WEB_BASE_URL", value)
    with pytest.raises(ConfigError, match="PAPERBOT_WEB_BASE_URL"):
        load_settings(cwd=tmp_path)


def test_a_short_web_token_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from paperbot.config import load_settings

    monkeypatch.setenv("PAPERBOT_WEB_TOKEN", "short")
    with pytest.raises(ConfigError, match=r"PAPERBOT_WEB_TOKEN: .*16"):
        load_settings(cwd=tmp_path)
    monkeypatch.setenv("PAPERBOT_WEB_TOKEN", "x" * 16)
    settings = load_settings(cwd=tmp_path)
    assert settings.web_token is not None and "x" * 16 not in repr(settings)
