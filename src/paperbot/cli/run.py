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

from paperbot.cli.common import fail, run_app, settings_for

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence
    from typing import Any

    from paperbot.bootstrap import App
    from paperbot.config import Settings
    from paperbot.domain import Digest, Subscription
    from paperbot.scheduler import PaperbotScheduler
    from paperbot.service.runtime import Leadership, PlatformState

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
    settings = settings_for(ctx)
    extra: list[Subscription] = []
    if console_at is not None:
        from paperbot.domain import Subscription
        from paperbot.errors import PaperbotError
        from paperbot.service.commands import parse_time

        try:
            at = parse_time(console_at)
        except PaperbotError:
            raise click.BadParameter("HH:MM 형식으로 적어 주세요.", param_hint="--console") from None
        extra.append(Subscription(platform="console", channel_id="stdout", time=at, timezone=settings.timezone))
    http_socket = None
    if settings.http_port is not None:
        from paperbot.web.server import bind

        try:
            http_socket = bind(settings.http_host, settings.http_port)
        except OSError as exc:
            fail(f"{settings.http_host}:{settings.http_port} 에서 열 수 없습니다: {exc.strerror or exc}", code=1)
    prepare_before_loop(settings)
    code = run_app(
        ctx,
        lambda app: _main(app, extra=extra, catch_up=not no_catch_up, http_socket=http_socket),
        print_digest=_print_console,
    )
    if code:
        raise SystemExit(code)


#: What ``build_app`` and ``_main`` import on first use, imported before the event loop starts instead: cold, they
#: take 1-3 s of CPU on a busy 2-core machine (bench/bench_loop.py), a stall of everything the loop runs beside.
_RUN_MODULES = (
    "paperbot.store.sql",
    "paperbot.httpclient",
    "paperbot.sources.registry",
    "paperbot.summarize.registry",
    "paperbot.scheduler",
    "paperbot.scheduler.health",
    "paperbot.service.search",
    "paperbot.web.app",
    "paperbot.web.server",
    # APScheduler finds its executor and job store by entry point when the scheduler starts: on the loop.
    "apscheduler.executors.asyncio",
    "apscheduler.jobstores.memory",
)


def prepare_before_loop(settings: Settings) -> None:
    """Do before the event loop starts what would stall it: the cold imports, and Kiwi's model when configured
    (for search or for the summaries' endings). Kiwi holds the GIL while it loads (2-7 s), so loading it in a
    worker thread stalls the loop as much: the platforms' heartbeats, Slack's 3-second acknowledgements, /healthz.
    """
    import gc
    import importlib

    from paperbot import korean

    platforms = ["paperbot.platforms.slack.api"] if settings.slack_bot_token is not None else []
    if settings.slack_bot_token is not None and (settings.slack_app_token or settings.slack_http_port is not None):
        platforms.append("paperbot.platforms.slack.runner")  # slack-bolt: only when the Slack app runs
    if settings.slack_bot_token is not None and settings.slack_app_token:
        platforms.append("slack_bolt.adapter.socket_mode.async_handler")  # imported when Socket Mode connects
    if settings.discord_token is not None:
        platforms += ["paperbot.platforms.discord.api", "paperbot.platforms.discord.bot", "paperbot.cli.discord"]
    if settings.article_fetch:
        platforms.append("trafilatura")  # the first extraction would import it (~1 s) in a thread, holding the GIL
    for name in (*_RUN_MODULES, *platforms):
        importlib.import_module(name)
    korean.configure(search_analyzer=settings.search_analyzer)
    if settings.search_analyzer == "kiwi":
        korean.load()
    if settings.summary_endings == "kiwi" and settings.llm_provider != "offline":
        korean.kiwi()
    # What was just imported is most of what the process holds for good (~100,000 objects). A full collection walks
    # it in 60-130 ms on a busy 2-core machine (bench/bench_loop.py: the web server's collect-and-freeze was the
    # longest stall of a cold start); collected and frozen here, later collections on the loop skip it.
    gc.collect()
    gc.freeze()


def _print_console(digest: Digest) -> None:
    from paperbot.digest.render.console import render_console

    click.echo(render_console(digest), nl=False)


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first leaf exception of a (nested) exception group."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


async def _platform(
    name: str, start: Callable[[], Coroutine[Any, Any, None]], states: dict[str, PlatformState]
) -> None:
    """Run one platform for good: when it returns or fails, log it and start it again after a pause that doubles
    up to an hour. It never raises (cancellation aside): one platform's failure never stops the other one, the
    scheduler or the web archive, and a crash loop cannot spend Discord's 1,000 IDENTIFY a day. ``states[name]``
    says which it is doing (``/healthz`` reports it)."""
    from datetime import timedelta

    from paperbot.domain import utcnow
    from paperbot.service.runtime import PlatformState

    delay = PLATFORM_RESTART_FIRST
    while True:
        states[name] = PlatformState("running")
        try:
            await start()
            problem, kind = "stopped", "stopped"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            problem, kind = f"{type(exc).__name__}: {exc}", type(exc).__name__
        logger.error("platform %s: %s; starting it again in %.0f s (the rest keeps running)", name, problem, delay)
        states[name] = PlatformState("retrying", problem=kind, retry_at=utcnow() + timedelta(seconds=delay))
        await asyncio.sleep(delay)
        delay = min(delay * 2, PLATFORM_RESTART_MAX)


async def _warm_up_search() -> None:
    """Load the Korean analyser in the background, so the first /paper search does not wait seconds for it."""
    from paperbot.service.search import warm_up

    try:
        logger.info("search analyser ready: %s", await warm_up())
    except Exception as exc:  # search still works: the analyser then loads on the first query
        logger.warning("search analyser not preloaded: %s", type(exc).__name__)


async def _lead(app: App, leadership: Leadership, scheduler: PaperbotScheduler) -> None:
    """Once elected: the scheduler, and the Discord gateway (one per deployment)."""
    await leadership.elected.wait()
    logger.info("leading: starting the scheduler%s", " and the Discord gateway" if app.discord_on else "")
    async with asyncio.TaskGroup() as group:
        group.create_task(scheduler.run())
        if app.discord_on:
            from paperbot.cli.discord import serve_discord

            group.create_task(_platform("discord", lambda: serve_discord(app), app.runtime.stats.platforms))


def _start_everywhere(
    tg: asyncio.TaskGroup, app: App, leadership: Leadership, http_socket: socket.socket | None
) -> None:
    """What every instance runs, leader or not: the web archive with health and metrics, the Slack app."""
    if app.discord_on or app.slack_on or http_socket is not None:
        tg.create_task(_warm_up_search())
    if http_socket is not None:
        from paperbot.scheduler.health import health_routes, make_registry
        from paperbot.web.server import serve

        registry = make_registry(app.runtime.stats, leadership.elected.is_set)
        routes = health_routes(registry, leadership.elected.is_set, app.runtime.stats.platforms)
        tg.create_task(serve(app.web_app(extra=routes), http_socket))
    if app.slack_on:
        from paperbot.platforms.slack.runner import run_slack

        settings = app.settings
        tg.create_task(
            _platform(
                "slack",
                lambda: run_slack(
                    settings,
                    app.commands,
                    voter_key=app.slack_voter_key,
                    sender=app.slack_sender,
                    http_port=settings.slack_http_port,
                    leader=leadership.elected,
                ),
                app.runtime.stats.platforms,
            )
        )


async def _main(
    app: App, *, extra: Sequence[Subscription], catch_up: bool, http_socket: socket.socket | None = None
) -> int:
    import os
    import signal
    import uuid
    from datetime import timedelta

    from paperbot.scheduler import PaperbotScheduler
    from paperbot.service.runtime import Leadership, LeadershipLostError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    settings = app.settings
    scheduler = PaperbotScheduler(
        app.runtime,
        hf_collect_hours=settings.hf_collect_hours,
        upvote_refresh_hour=settings.upvote_refresh_hour,
        catch_up=catch_up,
        extra=list(extra),
    )
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    leadership = Leadership(app.repository, holder, timedelta(seconds=settings.lease_ttl))
    enabled = [name for name, on in (("discord", app.discord_on), ("slack", app.slack_on)) if on]
    logger.info("paperbot run: instance %s, platforms: %s", holder, ", ".join(enabled) or "none")

    async def until_stopped() -> None:
        await stop.wait()
        raise _StopRequestedError

    code = 0
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(until_stopped())
            tg.create_task(leadership.run())
            tg.create_task(_lead(app, leadership, scheduler))
            _start_everywhere(tg, app, leadership, http_socket)
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
