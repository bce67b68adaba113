"""``paperbot collect / sources / backfill`` against a local server (built-in blogs disabled: no internet)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from paperbot.cli import cli
from paperbot.sources.registry import BUILTIN_SOURCES
from tests.sources.helpers import FEEDS, HF
from tests.sources.localserver import LocalServer, Reply, local_server


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        running.route("/api/daily_papers", Reply(body=(HF / "2025-01-13.json").read_bytes()))
        running.route("/feed.xml", Reply(body=(FEEDS / "huggingface_blog_rss.xml").read_bytes()))
        yield running


@pytest.fixture
def config(tmp_path: Path, server: LocalServer) -> Path:
    lines = [
        f'database_url = "sqlite+aiosqlite:///{tmp_path}/paperbot.db"',
        f'hf_base_url = "{server.base}"',
        "allow_private_networks = true",
        "http_host_interval = 0",
        "http_retries = 1",
        "feed_first_fetch_limit = 1",
        "source_degraded_after = 2",
        "article_fetch = false",  # the saved feed's posts link to the real blog; the article step is tested below
    ]
    for spec in BUILTIN_SOURCES:
        if spec.name != "hf_daily":
            lines += ["[[sources]]", f'name = "{spec.name}"', "enabled = false"]
    lines += ["[[sources]]", 'name = "local_blog"', 'type = "feed"', f'url = "{server.base}/feed.xml"']
    lines += ["[[sources]]", 'name = "gone"', 'type = "feed"', f'url = "{server.base}/gone.xml"']
    path = tmp_path / "paperbot.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(config: Path, *args: str) -> Result:
    env = {"PAPERBOT_CONFIG": str(config), "PAPERBOT_LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_collect_json_then_again(config: Path, server: LocalServer) -> None:
    first = invoke(config, "collect", "--date", "2025-01-13", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    papers = [item for item in data["items"] if item["source"] == "hf_daily"]
    assert [p["external_id"] for p in papers] == ["2501.05874", "2501.05727", "2501.03841", "2501.06186", "2501.05707"]
    assert len(papers) == 5 and all(p["new"] for p in papers)
    required = {
        "source",
        "external_id",
        "title",
        "authors",
        "abstract",
        "url",
        "thumbnail_url",
        "day",
        "upvotes",
        "new",
    }
    assert all(required <= set(item) for item in data["items"])
    assert isinstance(papers[0]["authors"], list) and papers[0]["day"] == "2025-01-13"
    posts = [item for item in data["items"] if item["source"] == "local_blog"]
    assert [p["extra"].get("backlog", False) for p in posts] == [False, True, True]  # first fetch: newest 1 only
    status = {s["name"]: s["status"] for s in data["sources"]}
    assert status == {"hf_daily": "ok", "local_blog": "ok", "gone": "failed"}
    assert "/api/daily_papers?date=2025-01-13&limit=100&p=0" in server.paths()

    again = json.loads(invoke(config, "collect", "--date", "2025-01-13", "--json", "--source", "hf_daily").stdout)
    assert [s["name"] for s in again["sources"]] == ["hf_daily"]
    assert not any(item["new"] for item in again["items"])


def test_collect_text_and_unknown_source(config: Path) -> None:
    result = invoke(config, "collect", "--date", "2025-01-13", "--source", "hf_daily")
    assert result.exit_code == 0 and "새 항목 5개" in result.stdout
    unknown = invoke(config, "collect", "--source", "nope")
    assert unknown.exit_code == 2 and "알 수 없는 소스: nope" in unknown.stderr


def test_sources_health_and_check(config: Path) -> None:
    for _ in range(2):
        invoke(config, "collect", "--date", "2025-01-13", "--source", "gone")
    listing = json.loads(invoke(config, "sources", "--json").stdout)["sources"]
    rows = {row["name"]: row for row in listing}
    assert rows["gone"]["health"] == "degraded" and rows["gone"]["consecutive_failures"] == 2
    assert "HTTP 404" in rows["gone"]["last_error"]
    assert rows["openai"]["enabled"] is False and rows["hf_daily"]["health"] == "unknown"
    text = invoke(config, "sources")
    assert "성능 저하" in text.stdout and "꺼짐" in text.stdout
    checked = invoke(config, "sources", "--check", "--json")
    assert checked.exit_code == 1  # "gone" fails its check
    checks = {row["name"]: row["check"] for row in json.loads(checked.stdout)["sources"]}
    assert checks["hf_daily"] == {"ok": True, "items": 5, "skipped": 0}
    assert checks["local_blog"]["ok"] and not checks["gone"]["ok"] and checks["openai"] is None


def test_backfill_range(config: Path, server: LocalServer) -> None:
    result = invoke(config, "backfill", "--from", "2025-01-11", "--to", "2025-01-13")
    assert result.exit_code == 0, result.output
    assert "3일 수집 완료" in result.stdout
    days = [p.split("date=")[1][:10] for p in server.paths() if p.startswith("/api/daily_papers")]
    assert sorted(days) == ["2025-01-11", "2025-01-12", "2025-01-13"]  # each day once (a few fetched at a time)
    backwards = invoke(config, "backfill", "--from", "2025-01-13", "--to", "2025-01-11")
    assert backwards.exit_code == 2


ARTICLES = Path(__file__).resolve().parent.parent / "data" / "articles"


def local_feed(base: str) -> bytes:
    """An RSS feed whose three posts link to this server (dates: newest first)."""
    items = "".join(
        f"<item><title>Post {name}</title><link>{base}/post/{name}</link><guid>{base}/post/{name}</guid>"
        f"<pubDate>{date}</pubDate><description>A teaser of post {name}.</description></item>"
        for name, date in (
            ("ok", "Mon, 13 Jan 2025 10:00:00 GMT"),
            ("gone", "Mon, 13 Jan 2025 09:00:00 GMT"),
            ("backlog", "Sun, 12 Jan 2025 09:00:00 GMT"),
        )
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>{items}</channel></rss>'.encode()


def test_collect_fetches_the_pages_of_the_posts_it_may_show(tmp_path: Path, server: LocalServer) -> None:
    server.route("/posts.xml", Reply(body=local_feed(server.base), headers={"Content-Type": "application/rss+xml"}))
    html = {"Content-Type": "text/html; charset=utf-8"}
    server.route("/post/ok", Reply(body=(ARTICLES / "github.blog.spiceland.html").read_bytes(), headers=html))
    server.route("/post/gone", Reply(404, b"gone", html))
    server.route("/post/backlog", Reply(body=(ARTICLES / "blog.python.org.html").read_bytes(), headers=html))
    lines = [
        f'database_url = "sqlite+aiosqlite:///{tmp_path}/paperbot.db"',
        "allow_private_networks = true",
        "http_host_interval = 0",
        "feed_first_fetch_limit = 2",
    ]
    for spec in BUILTIN_SOURCES:
        lines += ["[[sources]]", f'name = "{spec.name}"', "enabled = false"]
    lines += ["[[sources]]", 'name = "local"', 'type = "feed"', f'url = "{server.base}/posts.xml"']
    config = tmp_path / "paperbot.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke(config, "collect", "--date", "2025-01-13", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["articles"] == {
        "fetched": 2,
        "ok": 1,
        "fallback": 1,
        "reasons": {"http": 1},
        "deferred": 0,
    }
    pages = [path for path in server.paths() if path.startswith("/post/")]
    assert sorted(pages) == ["/post/gone", "/post/ok"]  # the feed's backlog post is never fetched
    again = invoke(config, "collect", "--date", "2025-01-13")
    assert again.exit_code == 0, again.output
    assert [path for path in server.paths() if path.startswith("/post/")] == pages  # same day: nothing again
