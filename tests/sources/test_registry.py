"""The source registry: built-ins, overrides, user sources, config errors."""

from __future__ import annotations

import httpx
import pytest

from paperbot.config import Settings
from paperbot.errors import ConfigError
from paperbot.sources.feed import FeedSource
from paperbot.sources.hf import HFDailySource
from paperbot.sources.registry import BUILTIN_SOURCES, build_sources, source_specs
from paperbot.sources.scrape import HtmlListSource

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
