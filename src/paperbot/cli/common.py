"""Helpers shared by the CLI subcommands: settings loaded once, logging, exits."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from paperbot.config import Settings, load_settings
from paperbot.logs import configure_logging

if TYPE_CHECKING:
    from paperbot.bootstrap import App

T = TypeVar("T")


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit: what users see instead of a traceback."""
    click.echo(f"paperbot: {message}", err=True)
    sys.exit(code)


def settings_for(ctx: click.Context) -> Settings:
    """Load Settings once per invocation (lazily, so --help never reads the environment) and set up logging."""
    root = ctx.find_root()
    cached = root.meta.get("paperbot.settings")
    if isinstance(cached, Settings):
        return cached
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    root.meta["paperbot.settings"] = settings
    return settings


def run_app(ctx: click.Context, main: Callable[[App], Awaitable[T]], **overrides: Any) -> T:
    """Prepare the database, build the app (:func:`paperbot.bootstrap.build_app`) and run ``main`` on it.

    The one way a CLI command starts: a database that is not ready exits 1 with the problem in one line.
    """
    from paperbot.bootstrap import build_app, prepare_database

    settings = settings_for(ctx)
    problem = prepare_database(settings)
    if problem:
        fail(problem, code=1)

    async def go() -> T:
        async with build_app(settings, **overrides) as app:
            return await main(app)

    return asyncio.run(go())
