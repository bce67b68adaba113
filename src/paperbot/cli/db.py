"""``paperbot db``: create, check and migrate the database schema."""

from __future__ import annotations

import sys

import click

from paperbot.cli.common import fail, settings_for


def _interactive() -> bool:
    """Whether there is someone at a terminal to answer a question."""
    return sys.stdin.isatty()


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
@click.option("--yes", is_flag=True, help="Do not ask before dropping tables (needed without a terminal).")
@click.pass_context
def downgrade(ctx: click.Context, revision: str, yes: bool) -> None:
    """Migrate the schema down to REVISION ('base' drops every table, '-1' goes one step back).

    Going down drops tables and the data in them, so it asks first; --yes skips the question.
    """
    from paperbot.store import migrate
    from paperbot.store.engine import describe_url

    settings = settings_for(ctx)
    before = migrate.status(settings.database_url)
    if before.current is None:
        click.echo("스키마가 없습니다 (revision base). 내릴 것이 없습니다.")
        return
    if not yes:
        where = describe_url(settings.database_url)
        question = (
            f"{where}의 스키마를 {before.current} → {revision}(으)로 내립니다. "
            + (
                "모든 테이블과 데이터가 지워집니다. "
                if revision == "base"
                else "지워지는 테이블의 데이터는 사라집니다. "
            )
            + "계속할까요?"
        )
        if not _interactive():
            fail("스키마를 내리면 데이터가 지워집니다: 확인하려면 --yes를 붙이세요.", code=2)
        if not click.confirm(question, default=False):
            fail("취소했습니다. 아무것도 바꾸지 않았습니다.", code=1)
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
    from paperbot.store.engine import sqlite_file

    url = settings_for(ctx).database_url
    file = sqlite_file(url)
    if file is not None and not file.exists():  # reading must not create it
        fail(f"데이터베이스 파일이 없습니다: {file} ('paperbot db upgrade'가 만듭니다)", code=1)
    state = migrate.status(url)
    mark = "최신" if state.up_to_date else "업그레이드 필요: paperbot db upgrade"
    click.echo(f"current: {state.current or 'base'}  head: {state.head}  ({mark})")
