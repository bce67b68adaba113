"""``paperbot summarize``: Korean summaries for the collected items that have none yet."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from paperbot.cli.common import run_app, settings_for

if TYPE_CHECKING:
    from paperbot.bootstrap import App


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
    from paperbot.service.summarize import SummarizeReport, summarize_pending

    settings = settings_for(ctx)
    day_from: date | None = day.date() if day is not None else None

    bar = _ProgressBar() if not as_json and sys.stderr.isatty() else None

    async def run(app: App) -> SummarizeReport:
        try:
            return await summarize_pending(
                app.repository,
                app.summarizer,
                day_from=day_from,
                limit=limit,
                concurrency=settings.llm_concurrency,
                daily_budget_usd=settings.llm_daily_budget_usd,
                progress=bar.update if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()

    report = run_app(ctx, run)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(report.status())
    if report.pending and report.offline_mode:
        click.echo("오프라인 모드: 초록의 문장을 그대로 인용한 추출 요약입니다.")


class _ProgressBar:
    """click's progress bar on stderr, started on the first item (its length is known only then)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = 0

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="요약", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._shown)
        self._shown = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
