"""``paperbot digest``: the main job. Builds the digest of the covered day and prints or posts it."""

from __future__ import annotations

import asyncio
from datetime import date

import click

from paperbot.cli.common import fail, settings_for


@click.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="HF day to cover (YYYY-MM-DD). Default: the day that ended before this morning in Asia/Seoul, "
    "i.e. yesterday's UTC date at 09:00 KST.",
)
@click.pass_context
def digest(ctx: click.Context, day: object) -> None:
    """Build the daily digest and print it to the console."""
    from paperbot.bootstrap import build_services
    from paperbot.digest.days import covered_day
    from paperbot.domain import ItemKind, utcnow
    from paperbot.store.migrate import ensure_schema

    settings = settings_for(ctx)
    problem = ensure_schema(settings.database_url)
    if problem:
        fail(problem, code=1)
    target_day: date = day.date() if hasattr(day, "date") else covered_day(utcnow(), settings.timezone)

    async def run() -> None:
        async with build_services(settings) as services:
            items = await services.repository.list_items(day_from=target_day, day_to=target_day)
        papers = [i for i in items if i.kind is ItemKind.PAPER]
        posts = [i for i in items if i.kind is ItemKind.POST]
        click.echo(f"## Daily Papers ({target_day.isoformat()})")
        click.echo()
        if not items:
            click.echo(f"{target_day.isoformat()}에 수집된 논문과 블로그 글이 없습니다.")
            return
        for item in papers + posts:
            click.echo(f"- {item.title} ({item.url})")

    asyncio.run(run())
