"""The source registry: built-ins, overrides, user sources, config errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import httpx
import pytest

from paperbot.config import Settings
from paperbot.digest.build import build_daily
from paperbot.digest.render.markdown import render_markdown
from paperbot.errors import ConfigError
from paperbot.httpclient import make_http_client
from paperbot.sources.feed import FeedSource
from paperbot.sources.hf import HFDailySource
from paperbot.sources.registry import BUILTIN_SOURCES, build_sources, source_specs
from paperbot.sources.scrape import HtmlListSource
from tests.sources.helpers import FEEDS
from tests.sources.localserver import Reply, local_server

ISSUE_LIST = {"hf_daily", "openai", "huggingface_blog", "microsoft_research", "aws_ml", "nvidia", "google_research",
              "deepmind", "naver_d2", "kakao_tech", "nc_research", "lilianweng", "ahead_of_ai", "anthropic_news",
              "anthropic_engineering", "meta_ai"}  # fmt: skip


async def test_defaults_build_every_builtin_without_configuration() -> None:
    async with httpx.AsyncClient() as http:
        sources = build_sources(Settings(), http)
    assert {source.name for source in sources} == ISSUE_LIST
    kinds = {source.name: type(source) for source in sources}
    assert kinds["hf_daily"] is HFDailySource and kinds["openai"] is FeedSource
    assert kinds["anthropic_news"] is kinds["meta_ai"] is HtmlListSource
    assert all(spec.url is None or spec.url.startswith("https://") for spec in BUILTIN_SOURCES)


async def test_disable_override_and_add() -> None:
    settings = Settings(
        sources=[
            {"name": "openai", "enabled": False},
            {"name": "lilianweng", "url": "https://mirror.example.org/index.xml", "first_fetch_limit": 0},
            {"name": "my_blog", "type": "feed", "url": "https://blog.example.org/feed.xml", "title": "Mine"},
        ]
    )
    async with httpx.AsyncClient() as http:
        sources = {source.name: source for source in build_sources(settings, http)}
    assert "openai" not in sources
    lil = sources["lilianweng"]
    assert (
        isinstance(lil, FeedSource) and lil.url == "https://mirror.example.org/index.xml" and lil.first_fetch_limit == 0
    )
    mine = sources["my_blog"]
    assert isinstance(mine, FeedSource) and mine.title == "Mine" and mine.first_fetch_limit == 3
    disabled = {spec.name: spec.enabled for spec in source_specs(settings)}
    assert disabled["openai"] is False and disabled["my_blog"] is True


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "type": "gopher", "url": "https://x.example"}, "unknown type 'gopher' (known types: hf_daily, feed, scrape)"),
        ({"name": "x", "url": "https://x.example"}, "names no type"),
        ({"name": "x", "type": "feed"}, "needs a url"),
        ({"name": "x", "type": "feed", "url": "file:///etc/passwd"}, "http(s) URL"),
        ({"name": "x", "type": "scrape", "url": "https://x.example"}, "link_pattern"),
    ],
)  # fmt: skip
async def test_config_errors(entry: dict[str, object], message: str) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigError) as caught:
            build_sources(Settings(sources=[entry]), http)
    assert message in str(caught.value)


async def test_configured_sources_get_their_company_or_a_readable_default() -> None:
    """Issue 15: a team's own source can say which company its posts are from, like the built-ins do; without
    ``company`` its title stands in, else its URL's host, never the source's identifier."""
    settings = Settings(
        sources=[
            {"name": "my_lab", "type": "feed", "url": "https://lab.example.org/feed.xml", "company": "우리 연구소"},
            {"name": "jane", "type": "feed", "url": "https://jane.example.org/index.xml", "company": ""},
            {"name": "titled", "type": "feed", "url": "https://t.example.org/rss", "title": "Titled Blog"},
            {"name": "bare", "type": "scrape", "url": "https://www.bare.example.com/news", "link_pattern": "^/n/"},
            {"name": "spaced", "type": "feed", "url": "https://s.example.org/rss", "company": " \u202eX  Corp\u200b "},
            {"name": "openai", "company": "오픈AI"},
        ]
    )
    specs = {spec.name: spec for spec in source_specs(settings)}
    assert specs["my_lab"].company == "우리 연구소"
    assert specs["jane"].company == ""  # a personal blog: the date alone
    assert specs["titled"].company == "Titled Blog"
    assert specs["bare"].company == "bare.example.com"
    assert specs["spaced"].company == "X Corp"  # cleaned like any untrusted text
    assert specs["openai"].company == "오픈AI" and specs["openai"].url == "https://openai.com/news/rss.xml"
    assert specs["huggingface_blog"].company == "HuggingFace"  # a built-in keeps its own
    assert specs["hf_daily"].company is None
    async with httpx.AsyncClient() as http:
        built = {source.name: source for source in build_sources(settings, http)}
    assert [getattr(built[name], "company", None) for name in ("my_lab", "jane", "bare", "openai")] == [
        "우리 연구소",
        "",
        "bare.example.com",
        "오픈AI",
    ]


async def test_a_configured_source_shows_its_company_in_the_digest() -> None:
    """From the TOML-shaped settings to the digest line: the feed's posts carry the company, the blog label shows it
    as it shows a built-in's (``Title (2025.08.11, 우리 연구소)``)."""
    with local_server() as server:
        server.route("/feed.xml", Reply(body=(FEEDS / "huggingface_blog_rss.xml").read_bytes()))
        settings = Settings(
            http_host_interval=0.0,
            allow_private_networks=True,
            sources=[
                {"name": "my_lab", "type": "feed", "url": f"{server.base}/feed.xml", "company": "우리 연구소"},
                {"name": "plain", "type": "feed", "url": f"{server.base}/feed.xml"},
            ],
        )
        async with make_http_client(settings) as http:
            sources = {source.name: source for source in build_sources(settings, http)}
            mine = (await sources["my_lab"].fetch(date(2025, 8, 11))).items
            plain = (await sources["plain"].fetch(date(2025, 8, 11))).items
    assert mine and {item.extra["company"] for item in mine} == {"우리 연구소"}
    assert {item.extra["company"] for item in plain} == {"127.0.0.1"}  # the host of its URL
    posts = [
        replace(item, id=n, extra={k: v for k, v in item.extra.items() if k != "backlog"})
        for n, item in enumerate(mine, 1)
    ]
    text = render_markdown(build_daily(posts[0].day, [], posts), annotate=False)
    assert f"({posts[0].published_at:%Y.%m.%d}, 우리 연구소)\n" in text
