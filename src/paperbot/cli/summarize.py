"""``paperbot summarize``: Korean summaries for the collected items that have none yet."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime

import click

from paperbot.cli.common import fail, settings_for


@click.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only items of this HF day or later (YYYY-MM-DD). Default: every item without a summary.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many items.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def summarize(ctx: click.Context, day: datetime | None, limit: int | None, as_json: bool) -> None:
    """Summarise pending items in Korean (LLM back-end or offline), with the cache and the daily budget."""
    from paperbot.bootstrap import build_services
    from paperbot.service.summarize import SummarizeReport, summarize_pending
    from paperbot.store.migrate import ensure_schema

    settings = settings_for(ctx)
    problem = ensure_schema(settings.database_url)
    if problem:
        fail(problem, code=1)
    day_from: date | None = day.date() if day is not None else None

    async def run() -> SummarizeReport:
        async with build_services(settings) as services:
            return await summarize_pending(
                services.repository,
                services.summarizer,
                day_from=day_from,
                limit=limit,
                concurrency=settings.llm_concurrency,
                daily_budget_usd=settings.llm_daily_budget_usd,
            )

    report = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(report.status())
    if report.pending and report.offline_mode:
        click.echo("오프라인 모드: 초록의 문장을 그대로 인용한 추출 요약입니다.")
