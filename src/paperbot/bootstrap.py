"""Composition root: the only module that knows concrete classes. Builds ``Services`` inside ``async with``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from paperbot.config import Settings
from paperbot.ports import ArticleSource, Repository, Source, Summarizer

if TYPE_CHECKING:
    import httpx


@dataclass(slots=True)
class Services:
    """What the use cases need, built once per process (or per CLI command)."""

    settings: Settings
    repository: Repository
    http: httpx.AsyncClient
    sources: list[Source]
    summarizer: Summarizer
    #: Fetches shown blog posts' pages for their main text (None: ``article_fetch`` is off).
    articles: ArticleSource | None = None


@asynccontextmanager
async def build_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the database, the shared HTTP client, the sources and the summariser; close them all on exit."""
    from paperbot import korean
    from paperbot.httpclient import make_http_client
    from paperbot.sources.fetch import Fetcher
    from paperbot.sources.registry import build_article_source, build_sources
    from paperbot.store.engine import create_engine
    from paperbot.store.sql import SqlRepository
    from paperbot.summarize.registry import build_summarizer

    korean.configure(search_analyzer=settings.search_analyzer)
    async with AsyncExitStack() as stack:
        repository = SqlRepository(create_engine(settings.database_url), owns_engine=True)
        stack.push_async_callback(repository.close)
        http = make_http_client(settings)
        stack.push_async_callback(http.aclose)
        fetcher = Fetcher.from_settings(settings, http)
        yield Services(
            settings=settings,
            repository=repository,
            http=http,
            sources=build_sources(settings, http, fetcher),
            summarizer=build_summarizer(settings, http, repository),
            articles=build_article_source(settings, fetcher),
        )
