"""``paperbot db``: create, check and migrate the database schema."""

from __future__ import annotations

import click

from paperbot.cli.common import fail, settings_for


@click.group()
def db() -> None:
    """Create and migrate the database schema (PAPERBOT_DATABASE_URL)."""


@db.command()
@click.argument("revision", default="head")
@click.pass_context
def upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema up to REVISION (default: head). Running it again is a no-op."""
    from paperbot.store import migrate

    settings = settings_for(ctx)
    before = migrate.status(settings.database_url)
    migrate.upgrade(settings.database_url, revision)
    after = migrate.status(settings.database_url)
    if before.current == after.current:
        click.echo(f"이미 최신입니다: revision {after.current or 'base'}")
    else:
        click.echo(f"스키마를 올렸습니다: {before.current or 'base'} → {after.current}")


@db.command()
@click.argument("revision")
@click.pass_context
def downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema down to REVISION ('base' drops every table, '-1' goes one step back)."""
    from paperbot.store import migrate

    settings = settings_for(ctx)
    before = migrate.status(settings.database_url)
    migrate.downgrade(settings.database_url, revision)
    after = migrate.status(settings.database_url)
    click.echo(f"스키마를 내렸습니다: {before.current or 'base'} → {after.current or 'base'}")


@db.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Compare the database with the models; exit 1 on any drift."""
    from paperbot.store import migrate

    settings = settings_for(ctx)
    problems = migrate.check(settings.database_url)
    if problems:
        for problem in problems:
            click.echo(f"- {problem}", err=True)
        fail("스키마가 모델과 다릅니다 (drift)", code=1)
    click.echo("스키마가 모델과 일치합니다 (drift 없음).")


@db.command()
@click.pass_context
def current(ctx: click.Context) -> None:
    """Show the database's schema revision and the newest one this paperbot ships."""
    from paperbot.store import migrate

    state = migrate.status(settings_for(ctx).database_url)
    mark = "최신" if state.up_to_date else "업그레이드 필요: paperbot db upgrade"
    click.echo(f"current: {state.current or 'base'}  head: {state.head}  ({mark})")
