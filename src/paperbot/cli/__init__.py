"""The ``paperbot`` command line. Subcommands live in their own modules and are imported only when used,
so ``paperbot --help`` never loads SQLAlchemy, discord.py or slack-bolt.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from paperbot import __version__
from paperbot.cli.common import fail
from paperbot.errors import ConfigError, PaperbotError

#: name → "module:attribute" of each subcommand, loaded on first use.
LAZY_COMMANDS: dict[str, str] = {
    "db": "paperbot.cli.db:db",
    "collect": "paperbot.cli.sources:collect",
    "sources": "paperbot.cli.sources:sources",
    "backfill": "paperbot.cli.sources:backfill",
    "digest": "paperbot.cli.digest:digest",
    "discord": "paperbot.cli.discord:discord",
    "slack": "paperbot.cli.slack:slack",
    "search": "paperbot.cli.search:search",
    "summarize": "paperbot.cli.summarize:summarize",
    "eval": "paperbot.cli.eval:eval_group",
    "run": "paperbot.cli.run:run",
    "web": "paperbot.cli.web:web",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when listed or invoked."""

    def __init__(self, *args: object, lazy_commands: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        """Run the subcommand; our errors become one line on stderr and an exit code, never a traceback."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(f"설정 오류: {exc}", code=2)
        except PaperbotError as exc:
            fail(f"{exc.user_message} ({exc})", code=1)


@click.group(
    cls=LazyGroup,
    lazy_commands=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="paperbot")
def cli() -> None:
    """paperbot: Hugging Face Daily Papers와 AI 기술 블로그 새 글을 한국어 요약으로 전해 주는 봇.

    \b
    Settings come from PAPERBOT_* environment variables and ./paperbot.toml (or PAPERBOT_CONFIG);
    the environment wins. With no settings at all paperbot uses a SQLite file ./paperbot.db, the
    offline summariser and console output.
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: runs the CLI and turns our errors into one line and an exit code."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name="paperbot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("중단했습니다.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:  # raised while parsing, before any subcommand runs
        fail(f"설정 오류: {exc}", code=2)
    except KeyboardInterrupt:
        click.echo("중단했습니다.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
