"""Which sources exist: HF Daily Papers, the built-in blog list, and the user's ``[[sources]]`` tables.

A ``[[sources]]`` table whose ``name`` matches a built-in overrides it (``enabled = false`` disables it, ``url``
moves it, ``company`` renames it in digests); any other name adds a source of the given ``type``. Types map to
classes in :data:`SOURCE_TYPES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from paperbot.config import Settings, SourceConfig
from paperbot.errors import ConfigError
from paperbot.ports import ArticleSource, Source
from paperbot.sources.feed import FeedSource
from paperbot.sources.fetch import Fetcher
from paperbot.sources.hf import SOURCE_NAME as HF_SOURCE_NAME
from paperbot.sources.hf import HFDailySource
from paperbot.sources.scrape import HtmlListSource
from paperbot.sources.text import safe_http_url
from paperbot.untrusted import clean_untrusted


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as configured: built-in or from ``[[sources]]``, before it is built."""

    name: str
    type: str
    url: str | None = None
    title: str | None = None
    link_pattern: str | None = None
    first_fetch_limit: int | None = None
    enabled: bool = True
    builtin: bool = True
    #: The company shown beside a post (``Title (2024.11.01, AWS)``), Korean for Korean companies; "" for a
    #: personal blog (the date alone); None: not known (papers; posts stored without one show the feed's title).
    company: str | None = None


BUILTIN_SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec(HF_SOURCE_NAME, "hf_daily", title="Hugging Face Daily Papers"),
    SourceSpec("openai", "feed", "https://openai.com/news/rss.xml", "OpenAI News", company="OpenAI"),
    SourceSpec(
        "huggingface_blog", "feed", "https://huggingface.co/blog/feed.xml", "Hugging Face Blog", company="HuggingFace"
    ),
    SourceSpec(
        "microsoft_research",
        "feed",
        "https://www.microsoft.com/en-us/research/feed/",
        "Microsoft Research",
        company="Microsoft",
    ),
    SourceSpec(
        "aws_ml",
        "feed",
        "https://aws.amazon.com/blogs/machine-learning/feed/",
        "AWS Machine Learning Blog",
        company="AWS",
    ),
    SourceSpec("nvidia", "feed", "https://developer.nvidia.com/blog/feed/", "NVIDIA Technical Blog", company="Nvidia"),
    SourceSpec("google_research", "feed", "https://research.google/blog/rss/", "Google Research", company="Google"),
    SourceSpec("deepmind", "feed", "https://deepmind.google/blog/rss.xml", "Google DeepMind", company="DeepMind"),
    SourceSpec("naver_d2", "feed", "https://d2.naver.com/d2.atom", "NAVER D2", company="네이버"),
    SourceSpec("kakao_tech", "feed", "https://tech.kakao.com/feed/", "카카오 기술 블로그", company="카카오"),
    SourceSpec(
        "nc_research", "feed", "https://ncsoft.github.io/ncresearch/feed.xml", "NC Research", company="NC소프트"
    ),
    SourceSpec("lilianweng", "feed", "https://lilianweng.github.io/index.xml", "Lil'Log", company=""),
    SourceSpec("ahead_of_ai", "feed", "https://magazine.sebastianraschka.com/feed", "Ahead of AI", company=""),
    SourceSpec(
        "anthropic_news",
        "scrape",
        "https://www.anthropic.com/news",
        "Anthropic News",
        link_pattern=r"^/news/[^/]+/?$",
        company="Anthropic",
    ),
    SourceSpec(
        "anthropic_engineering",
        "scrape",
        "https://www.anthropic.com/engineering",
        "Anthropic Engineering",
        link_pattern=r"^/engineering/[^/]+/?$",
        company="Anthropic",
    ),
    SourceSpec(
        "meta_ai",
        "scrape",
        "https://ai.meta.com/blog/",
        "Meta AI Blog",
        link_pattern=r"^/blog/[^/]+/?$",
        company="Meta",
    ),
)


def _build_hf(spec: SourceSpec, settings: Settings, fetcher: Fetcher) -> Source:
    return HFDailySource(
        fetcher,
        name=spec.name,
        base_url=spec.url or settings.hf_base_url,
        deadline=settings.source_deadline,
    )


def _build_feed(spec: SourceSpec, settings: Settings, fetcher: Fetcher) -> Source:
    if not spec.url:
        raise ConfigError(f"source {spec.name!r}: a feed needs a url", key=f"sources.{spec.name}.url")
    return FeedSource(
        fetcher,
        name=spec.name,
        url=spec.url,
        title=spec.title,
        first_fetch_limit=_first_fetch_limit(spec, settings),
        deadline=settings.source_deadline,
        company=spec.company,
    )


def _build_scrape(spec: SourceSpec, settings: Settings, fetcher: Fetcher) -> Source:
    if not spec.url or not spec.link_pattern:
        raise ConfigError(
            f"source {spec.name!r}: a scraper needs url and link_pattern", key=f"sources.{spec.name}.link_pattern"
        )
    return HtmlListSource(
        fetcher,
        name=spec.name,
        url=spec.url,
        link_pattern=spec.link_pattern,
        title=spec.title,
        first_fetch_limit=_first_fetch_limit(spec, settings),
        deadline=settings.source_deadline,
        company=spec.company,
    )


def _first_fetch_limit(spec: SourceSpec, settings: Settings) -> int:
    return spec.first_fetch_limit if spec.first_fetch_limit is not None else settings.feed_first_fetch_limit


#: Config ``type`` → builder.
SOURCE_TYPES: dict[str, Callable[[SourceSpec, Settings, Fetcher], Source]] = {
    "hf_daily": _build_hf,
    "feed": _build_feed,
    "scrape": _build_scrape,
}


def _merge(base: SourceSpec | None, entry: SourceConfig) -> SourceSpec:
    if base is None:
        if entry.type is None:
            raise ConfigError(
                f"source {entry.name!r} is not built in and names no type (known types: {', '.join(SOURCE_TYPES)})",
                key=f"sources.{entry.name}.type",
            )
        return SourceSpec(
            name=entry.name,
            type=entry.type,
            url=entry.url,
            title=entry.title,
            link_pattern=entry.link_pattern,
            first_fetch_limit=entry.first_fetch_limit,
            enabled=entry.enabled,
            builtin=False,
            company=_company(entry),
        )
    return SourceSpec(
        name=base.name,
        type=entry.type or base.type,
        url=entry.url or base.url,
        title=entry.title or base.title,
        link_pattern=entry.link_pattern or base.link_pattern,
        first_fetch_limit=entry.first_fetch_limit if entry.first_fetch_limit is not None else base.first_fetch_limit,
        enabled=entry.enabled,
        builtin=True,
        company=base.company if entry.company is None else clean_untrusted(entry.company),
    )


#: Source types whose items are posts, shown with ``(date, company)``.
_POST_TYPES = frozenset({"feed", "scrape"})


def default_company(title: str | None, url: str | None) -> str | None:
    """What a configured post source without ``company`` shows beside its posts: its ``title`` (a display name the
    team wrote), else its URL's host without ``www.`` (always there, and where the link goes). Not the source
    name: that is an identifier for commands and logs (``my_lab``), not words for readers."""
    if title and (name := clean_untrusted(title)):
        return name
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:  # a malformed URL: source_specs refuses it next, with the key named
        return None
    return host.removeprefix("www.") if host else None


def _company(entry: SourceConfig) -> str | None:
    if entry.company is not None:
        return clean_untrusted(entry.company)
    return default_company(entry.title, entry.url) if entry.type in _POST_TYPES else None


def source_specs(settings: Settings) -> list[SourceSpec]:
    """Built-ins overridden by ``[[sources]]`` entries of the same name, then the user's own (including disabled)."""
    specs: dict[str, SourceSpec] = {spec.name: spec for spec in BUILTIN_SOURCES}
    for entry in settings.sources:
        specs[entry.name] = _merge(specs.get(entry.name), entry)
    for spec in specs.values():
        if spec.url is not None and safe_http_url(spec.url) is None:
            raise ConfigError(f"source {spec.name!r}: url must be an http(s) URL", key=f"sources.{spec.name}.url")
        if spec.type not in SOURCE_TYPES:
            raise ConfigError(
                f"source {spec.name!r}: unknown type {spec.type!r} (known types: {', '.join(SOURCE_TYPES)})",
                key=f"sources.{spec.name}.type",
            )
    return list(specs.values())


def build_sources(settings: Settings, http: httpx.AsyncClient, fetcher: Fetcher | None = None) -> list[Source]:
    """Every enabled source, sharing one polite :class:`Fetcher` (so pacing is per host across sources; pass the
    one the article fetcher uses, so a blog's feed and its posts' pages share their host's pace too)."""
    fetcher = fetcher or Fetcher.from_settings(settings, http)
    return [SOURCE_TYPES[spec.type](spec, settings, fetcher) for spec in source_specs(settings) if spec.enabled]


def build_article_source(settings: Settings, fetcher: Fetcher) -> ArticleSource | None:
    """The fetcher of shown posts' pages (issue 17), or None when ``article_fetch`` is off."""
    if not settings.article_fetch:
        return None
    from paperbot.sources.article import ArticleFetcher

    return ArticleFetcher(fetcher, deadline=settings.article_deadline)
