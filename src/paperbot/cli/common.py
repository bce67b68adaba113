"""Helpers shared by the CLI subcommands: settings loaded once, logging, exits."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from paperbot.config import Settings, load_settings
from paperbot.logs import configure_logging


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
