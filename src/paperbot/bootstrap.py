"""Composition root: the only module that knows concrete classes. :func:`build_app` builds the whole app.

Every CLI command and ``paperbot run`` call it (through :func:`paperbot.cli.common.run_app`); tests call it with
overrides (an in-memory repository, fake sources, a fake sender per platform) and get the same wiring:

    settings → repository, HTTP client, sources, summariser
             → one ChunkSender per enabled platform (Discord REST, Slack Web API; each logs in once, on first use)
             → the digest pipeline (collect → summarise → build → publish) → the runtime (scheduled jobs)
             → the command context (``/paper``), the web archive, the voter key

Nothing opens a connection while being built: the database and the platforms are reached on first use, and
everything opened is closed when the ``async with`` ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from paperbot.config import Settings
from paperbot.domain import Digest, utcnow
from paperbot.ports import ArticleSource, ChunkSender, Repository, Source, Summarizer
from paperbot.service.commands import CommandContext
from paperbot.service.pipeline import DigestPipeline
from paperbot.service.runtime import Runtime

if TYPE_CHECKING:
    import httpx
    from aiohttp import web as aiohttp_web

    from paperbot.platforms.slack.api import Identity as SlackIdentity
    from paperbot.platforms.slack.api import SlackChunkSender
    from paperbot.web.app import ExtraRoute


def prepare_database(settings: Settings) -> str | None:
    """Bring a SQLite database to the schema head (PostgreSQL is only checked); the problem in words, else None.

    Synchronous (Alembic runs its own event loop): call it before the app's loop starts.
    """
    from paperbot.store.migrate import ensure_schema

    return ensure_schema(settings.database_url)


def collect_deadline(settings: Settings) -> float:
    """The backstop over a whole collection inside a digest: a little over one source's deadline, and never more
    than half of the digest job's."""
    return min(settings.source_deadline + 30, settings.job_deadline / 2)


def _vote_salt(settings: Settings) -> str | None:
    return settings.vote_salt.get_secret_value() if settings.vote_salt else None


def discord_voter_key(settings: Settings) -> bytes:
    """The HMAC key of Discord voter ids, derived once: from ``PAPERBOT_VOTE_SALT`` when set, else from the bot's
    user id (the token's first segment, stable across token resets; hashes are then keyed but not secret)."""
    from paperbot.service.votes import voter_key

    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    return voter_key("discord", _vote_salt(settings), token.split(".", 1)[0])


def slack_voter_key(settings: Settings, identity: SlackIdentity) -> bytes:
    """The HMAC key of Slack voter ids: from ``PAPERBOT_VOTE_SALT`` when set, else from the workspace and the bot
    user (``team_id:user_id`` of ``auth.test``). That identity needs a request, which building the app never makes:
    the Slack runner passes it in once its sender has it (:meth:`SlackChunkSender.identity`)."""
    from paperbot.service.votes import voter_key

    return voter_key("slack", _vote_salt(settings), f"{identity.team_id}:{identity.user_id}")


@dataclass(slots=True)
class App:
    """The whole app, built once per process (or per CLI command) by :func:`build_app`."""

    settings: Settings
    repository: Repository
    http: httpx.AsyncClient | None
    sources: list[Source]
    summarizer: Summarizer
    #: Fetches shown blog posts' pages for their main text (None: ``article_fetch`` is off, or sources overridden).
    articles: ArticleSource | None
    #: platform name → its sender, for the enabled platforms only
    senders: dict[str, ChunkSender]
    pipeline: DigestPipeline
    runtime: Runtime
    commands: CommandContext

    @property
    def discord_on(self) -> bool:
        return "discord" in self.senders

    @property
    def slack_on(self) -> bool:
        """Slack's app runs (Socket Mode or HTTP mode), not only its sender."""
        settings = self.settings
        return "slack" in self.senders and (
            settings.slack_app_token is not None or settings.slack_http_port is not None
        )

    def discord_voter_key(self) -> bytes:
        return discord_voter_key(self.settings)

    def slack_voter_key(self, identity: SlackIdentity) -> bytes:
        return slack_voter_key(self.settings, identity)

    @property
    def slack_sender(self) -> SlackChunkSender | None:
        """The process's Slack sender when it is the real one (None: Slack off, or a test's fake): the Slack app
        shares its client and its one ``auth.test``."""
        from paperbot.platforms.slack.api import SlackChunkSender

        sender = self.senders.get("slack")
        return sender if isinstance(sender, SlackChunkSender) else None

    def web_app(self, *, extra: Mapping[str, ExtraRoute] | None = None) -> aiohttp_web.Application:
        """The web archive over the app's repository, configured from Settings."""
        from paperbot.web.app import WebConfig, create_app

        settings = self.settings
        config = WebConfig(
            token=settings.web_token.get_secret_value() if settings.web_token else None,
            source_names=tuple(source.name for source in self.sources),
            degraded_after=settings.source_degraded_after,
            timezone=settings.timezone,
            secure_cookie=(settings.web_base_url or "").startswith("https://"),
        )
        return create_app(self.repository, config, extra=extra)


def _senders(settings: Settings, stack: AsyncExitStack) -> dict[str, ChunkSender]:
    senders: dict[str, ChunkSender] = {}
    if settings.discord_token is not None:
        from paperbot.platforms.discord.api import DiscordChunkSender

        discord_sender = DiscordChunkSender.from_settings(settings)
        stack.push_async_callback(discord_sender.close)
        senders["discord"] = discord_sender
    if settings.slack_bot_token is not None:
        from paperbot.platforms.slack.api import SlackChunkSender

        slack_sender = SlackChunkSender.from_settings(settings)
        stack.push_async_callback(slack_sender.close)
        senders["slack"] = slack_sender
    return senders


@asynccontextmanager
async def build_app(
    settings: Settings,
    *,
    repository: Repository | None = None,
    http: httpx.AsyncClient | None = None,
    sources: Sequence[Source] | None = None,
    summarizer: Summarizer | None = None,
    articles: ArticleSource | None = None,
    senders: Mapping[str, ChunkSender] | None = None,
    print_digest: Callable[[Digest], None] | None = None,
    now: Callable[[], datetime] = utcnow,
) -> AsyncIterator[App]:
    """Build the app from ``settings``; each keyword replaces one part (tests: fakes). Closes what it opened."""
    from paperbot import korean

    korean.configure(search_analyzer=settings.search_analyzer)
    async with AsyncExitStack() as stack:
        if repository is None:
            from paperbot.store.engine import create_engine
            from paperbot.store.sql import SqlRepository

            sql = SqlRepository(create_engine(settings.database_url), owns_engine=True)
            stack.push_async_callback(sql.close)
            repository = sql
        if sources is None or summarizer is None:
            from paperbot.httpclient import make_http_client

            client = http
            if client is None:
                client = http = make_http_client(settings)
                stack.push_async_callback(client.aclose)
            if sources is None:
                from paperbot.sources.fetch import Fetcher
                from paperbot.sources.registry import build_article_source, build_sources

                # One polite Fetcher: a blog's feed and its posts' pages keep their host's pace.
                fetcher = Fetcher.from_settings(settings, client)
                sources = build_sources(settings, client, fetcher)
                if articles is None:
                    articles = build_article_source(settings, fetcher)
            if summarizer is None:
                from paperbot.summarize.registry import build_summarizer

                summarizer = build_summarizer(settings, client, repository)
        chosen = dict(senders) if senders is not None else _senders(settings, stack)
        pipeline = DigestPipeline(
            repository=repository,
            sources=list(sources),
            summarizer=summarizer,
            senders=chosen,
            llm_concurrency=settings.llm_concurrency,
            llm_daily_budget_usd=settings.llm_daily_budget_usd,
            source_deadline=settings.source_deadline,
            collect_deadline=collect_deadline(settings),
            archive_base_url=settings.web_base_url,
            articles=articles,
            now=now,
        )
        runtime = Runtime(
            repository=repository,
            pipeline=pipeline,
            print_digest=print_digest,
            timezone=settings.timezone,
            job_deadline=settings.job_deadline,
            hf_refresh_days=settings.hf_refresh_days,
            look_back=timedelta(hours=settings.catch_up_hours),
            now=now,
        )
        commands = CommandContext(
            repository,
            timezone=settings.timezone,
            sources=list(sources),
            summarizer=summarizer,
            now=now,
            web_base_url=settings.web_base_url,
        )
        yield App(
            settings=settings,
            repository=repository,
            http=http,
            sources=list(sources),
            summarizer=summarizer,
            articles=articles,
            senders=chosen,
            pipeline=pipeline,
            runtime=runtime,
            commands=commands,
        )
