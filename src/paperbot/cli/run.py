"""``paperbot run``: the long-running bot. Scheduler and Discord gateway on the leader, Slack and health everywhere.

Several instances may run against one PostgreSQL database: the leader lease (``paperbot.service.runtime``) picks
the one that runs the scheduler and holds the Discord gateway; the others wait and take over when it expires.
Uniqueness constraints make any duplicate work harmless (each digest chunk is posted once).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, settings_for

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from paperbot.bootstrap import Services
    from paperbot.config import Settings
    from paperbot.service.runtime import Publish

logger = logging.getLogger("paperbot.run")


class _StopRequestedError(Exception):
    """SIGTERM/SIGINT: leave the TaskGroup (cancelling everything) and exit 0."""


#: A platform that stopped or failed is started again after this pause, doubled each time up to the cap.
PLATFORM_RESTART_FIRST = 60.0
PLATFORM_RESTART_MAX = 3600.0


@click.command()
@click.option(
    "--console",
    "console_at",
    default=None,
    metavar="HH:MM",
    help="Also print the daily digest here at HH:MM (PAPERBOT_TIMEZONE).",
)
@click.option("--no-catch-up", is_flag=True, help="Do not post digests missed while the bot was down.")
@click.pass_context
def run(ctx: click.Context, console_at: str | None, no_catch_up: bool) -> None:
    """봇을 실행합니다: 일정에 따라 수집·요약·게시하고, 설정된 Discord/Slack에서 명령과 투표를 받습니다.

    \b
    Discord: PAPERBOT_DISCORD_TOKEN. Slack: PAPERBOT_SLACK_BOT_TOKEN + PAPERBOT_SLACK_APP_TOKEN (Socket Mode)
    or PAPERBOT_SLACK_HTTP_PORT. Without a platform it still collects (and prints with --console).
    The web archive, /healthz and /metrics on PAPERBOT_HTTP_PORT (PAPERBOT_HTTP_HOST, default 127.0.0.1).
    SIGTERM or Ctrl+C stops it cleanly.
    """
    from paperbot.store.migrate import ensure_schema

    settings = settings_for(ctx)
    if console_at is not None:
        from paperbot.errors import PaperbotError
        from paperbot.service.commands import parse_time

        try:
            console_at = parse_time(console_at)
        except PaperbotError:
            raise click.BadParameter("HH:MM 형식으로 적어 주세요.", param_hint="--console") from None
    problem = ensure_schema(settings.database_url)
    if problem:
        fail(problem, code=1)
    http_socket = None
    if settings.http_port is not None:
        from paperbot.web.server import bind

        try:
            http_socket = bind(settings.http_host, settings.http_port)
        except OSError as exc:
            fail(f"{settings.http_host}:{settings.http_port} 에서 열 수 없습니다: {exc.strerror or exc}", code=1)
    code = asyncio.run(_main(settings, console_at=console_at, catch_up=not no_catch_up, http_socket=http_socket))
    if code:
        raise SystemExit(code)


def _publishers(settings: Settings, services: Services) -> dict[str, Publish]:
    from paperbot.domain import Digest

    publishers: dict[str, Publish] = {}
    if settings.discord_token is not None:
        from paperbot.platforms import discord

        async def to_discord(digest: Digest, channel_id: str) -> Any:
            return await discord.publish_once(settings, services.repository, digest, channel_id)

        publishers["discord"] = to_discord
    if settings.slack_bot_token is not None:
        from paperbot.platforms import slack

        async def to_slack(digest: Digest, channel_id: str) -> Any:
            return await slack.publish_once(settings, services.repository, digest, channel_id)

        publishers["slack"] = to_slack

    async def to_console(digest: Digest, channel_id: str) -> Any:
        from paperbot.digest.render.console import render_console
        from paperbot.domain import DigestRun, RunStatus
        from paperbot.service.publish import PublishResult

        click.echo(render_console(digest), nl=False)
        run = DigestRun(target="console", kind=digest.kind, day=digest.day, status=RunStatus.DONE)
        return PublishResult(run=run, sent=1, complete=True)

    publishers["console"] = to_console
    return publishers


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first leaf exception of a (nested) exception group."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


async def _platform(name: str, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run one platform for good: when it returns or fails, log it and start it again after a pause that doubles
    up to an hour. It never raises (cancellation aside): one platform's failure never stops the other one, the
    scheduler or the web archive, and a crash loop cannot spend Discord's 1,000 IDENTIFY a day."""
    delay = PLATFORM_RESTART_FIRST
    while True:
        try:
            await start()
            problem = "stopped"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        logger.error("platform %s: %s; starting it again in %.0f s (the rest keeps running)", name, problem, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, PLATFORM_RESTART_MAX)


async def _main(  # noqa: PLR0915
    settings: Settings, *, console_at: str | None, catch_up: bool, http_socket: socket.socket | None = None
) -> int:
    import os
    import signal
    import uuid
    from datetime import timedelta

    from paperbot.bootstrap import build_services
    from paperbot.domain import Subscription
    from paperbot.scheduler import PaperbotScheduler
    from paperbot.service.runtime import Leadership, LeadershipLostError, Runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async with build_services(settings) as services:
        runtime = Runtime(
            repository=services.repository,
            sources=services.sources,
            summarizer=services.summarizer,
            publishers=_publishers(settings, services),
            timezone=settings.timezone,
            llm_concurrency=settings.llm_concurrency,
            llm_daily_budget_usd=settings.llm_daily_budget_usd,
            job_deadline=settings.job_deadline,
            source_deadline=settings.source_deadline,
            collect_deadline=min(settings.source_deadline + 30, settings.job_deadline / 2),
            hf_refresh_days=settings.hf_refresh_days,
            look_back=timedelta(hours=settings.catch_up_hours),
            archive_base_url=settings.web_base_url,
            articles=services.articles,
        )
        extra = (
            [Subscription(platform="console", channel_id="stdout", time=console_at, timezone=settings.timezone)]
            if console_at
            else []
        )
        scheduler = PaperbotScheduler(
            runtime,
            hf_collect_hours=settings.hf_collect_hours,
            upvote_refresh_hour=settings.upvote_refresh_hour,
            catch_up=catch_up,
            extra=extra,
        )
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        leadership = Leadership(services.repository, holder, timedelta(seconds=settings.lease_ttl))
        discord_on = settings.discord_token is not None
        slack_on = settings.slack_bot_token is not None and (
            settings.slack_app_token is not None or settings.slack_http_port is not None
        )
        enabled = [name for name, on in (("discord", discord_on), ("slack", slack_on)) if on]
        logger.info("paperbot run: instance %s, platforms: %s", holder, ", ".join(enabled) or "none")

        async def until_stopped() -> None:
            await stop.wait()
            raise _StopRequestedError

        async def warm_up_search() -> None:
            # Load the Korean analyser in the background, so the first /paper search does not wait seconds for it.
            from paperbot.service.search import warm_up

            try:
                logger.info("search analyser ready: %s", await warm_up())
            except Exception as exc:  # search still works: the analyser then loads on the first query
                logger.warning("search analyser not preloaded: %s", type(exc).__name__)

        async def lead() -> None:
            await leadership.elected.wait()
            logger.info("leading: starting the scheduler%s", " and the Discord gateway" if discord_on else "")
            async with asyncio.TaskGroup() as group:
                group.create_task(scheduler.run())
                if discord_on:
                    from paperbot.cli.discord import serve_discord

                    group.create_task(_platform("discord", lambda: serve_discord(settings, services)))

        code = 0
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(until_stopped())
                tg.create_task(leadership.run())
                tg.create_task(lead())
                if enabled or http_socket is not None:
                    tg.create_task(warm_up_search())
                if http_socket is not None:
                    from paperbot.cli.web import archive_app
                    from paperbot.scheduler.health import health_routes, make_registry
                    from paperbot.web.server import serve

                    registry = make_registry(runtime.stats, leadership.elected.is_set)
                    routes = health_routes(registry, leadership.elected.is_set)
                    tg.create_task(serve(archive_app(settings, services, extra=routes), http_socket))
                if slack_on:
                    from paperbot.platforms.slack.runner import run_slack
                    from paperbot.service.commands import CommandContext

                    context = CommandContext(
                        services.repository,
                        timezone=settings.timezone,
                        sources=services.sources,
                        summarizer=services.summarizer,
                        web_base_url=settings.web_base_url,
                    )
                    tg.create_task(
                        _platform(
                            "slack",
                            lambda: run_slack(
                                settings, context, http_port=settings.slack_http_port, leader=leadership.elected
                            ),
                        )
                    )
        except* _StopRequestedError:
            logger.info("paperbot run: stopping (signal)")
        except* LeadershipLostError as group:
            logger.error("paperbot run: %s; exiting so a supervisor restarts this instance", _first(group))
            code = 1
        except* Exception as group:
            logger.error("paperbot run: unexpected %s", type(_first(group)).__name__, exc_info=_first(group))
            code = 1
        finally:
            try:
                await leadership.release()
            except Exception as exc:  # the lease then simply expires
                logger.warning("lease release failed: %s", type(exc).__name__)
        return code
