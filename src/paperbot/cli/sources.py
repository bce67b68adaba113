"""``paperbot collect``, ``paperbot sources`` and ``paperbot backfill``: gathering papers and posts.

Like every command they start from the one composition root (:func:`paperbot.bootstrap.build_app`), and use its
repository and sources.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import click

from paperbot.cli.common import fail, run_app, settings_for

if TYPE_CHECKING:
    from paperbot.bootstrap import App
    from paperbot.domain import Item, SourceState
    from paperbot.ports import Source
    from paperbot.service.collect import CollectReport

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _check_names(names: Sequence[str], sources: Sequence[Source]) -> None:
    known = [source.name for source in sources]
    unknown = [name for name in names if name not in known]
    if unknown:
        fail(f"알 수 없는 소스: {', '.join(unknown)} (사용 가능: {', '.join(known)})", code=2)


def item_json(item: Item, *, new: bool) -> dict[str, Any]:
    return {
        "source": item.source,
        "external_id": item.external_id,
        "kind": item.kind.value,
        "title": item.title,
        "authors": list(item.authors),
        "abstract": item.abstract,
        "url": item.url,
        "thumbnail_url": item.thumbnail_url,
        "day": item.day.isoformat(),
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "upvotes": item.upvotes,
        "upvotes_captured_at": item.upvotes_captured_at.isoformat() if item.upvotes_captured_at else None,
        "extra": item.extra,
        "new": new,
    }


def report_json(report: CollectReport) -> dict[str, Any]:
    return {
        "day": report.day.isoformat(),
        "items": [item_json(entry.item, new=entry.new) for entry in report.items],
        "sources": [
            {
                "name": outcome.name,
                "status": outcome.status.value,
                "error": outcome.error,
                "fetched": outcome.fetched,
                "new": outcome.new,
                "skipped": outcome.skipped,
                "not_ready": outcome.not_ready,
            }
            for outcome in report.sources
        ],
        "articles": None if report.articles is None else dataclasses.asdict(report.articles),
    }


def _describe_outcomes(report: CollectReport) -> None:
    for outcome in report.sources:
        if outcome.status.value == "failed":
            click.echo(f"  {outcome.name}: 실패 — {outcome.error}", err=True)
        elif outcome.status.value == "not_modified":
            click.echo(f"  {outcome.name}: 변경 없음")
        else:
            note = " (아직 집계 중인 날입니다)" if outcome.not_ready else ""
            skipped = f", 형식 오류로 건너뜀 {outcome.skipped}개" if outcome.skipped else ""
            click.echo(f"  {outcome.name}: 새 항목 {outcome.new}개 / 가져온 항목 {outcome.fetched}개{skipped}{note}")


@click.command()
@click.option("--date", "day", type=_DATE, default=None, help="HF day to collect (YYYY-MM-DD). Default: today (UTC).")
@click.option("--source", "names", multiple=True, help="Only this source (repeatable), e.g. hf_daily or openai.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the items and per-source status.")
@click.pass_context
def collect(ctx: click.Context, day: Any, names: tuple[str, ...], as_json: bool) -> None:
    """Fetch Hugging Face Daily Papers and the tracked blogs once and store what is new."""
    from paperbot.domain import utcnow
    from paperbot.service.collect import collect as collect_use_case

    target: date = day.date() if day is not None else utcnow().date()

    async def run(app: App) -> CollectReport:
        _check_names(names, app.sources)
        return await collect_use_case(
            app.repository, app.sources, day=target, only=list(names) or None, articles=app.articles
        )

    report = run_app(ctx, run)
    if as_json:
        click.echo(json.dumps(report_json(report), ensure_ascii=False, default=str))
    else:
        click.echo(f"{target.isoformat()} 수집: 새 항목 {len(report.new_items)}개")
        _describe_outcomes(report)
        if report.articles is not None and (report.articles.fetched or report.articles.deferred):
            shown = report.articles
            reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(shown.reasons.items()))
            click.echo(
                f"  본문: 가져온 글 {shown.fetched}개, 본문 사용 {shown.ok}개, 발췌로 대체 {shown.fallback}개"
                + (f" ({reasons})" if reasons else "")
                + (f", 다음 수집으로 미룸 {shown.deferred}개" if shown.deferred else "")
            )
    if report.sources and len(report.failed) == len(report.sources):
        ctx.exit(1)


def _health(state: SourceState | None, threshold: int) -> str:
    from paperbot.service.archive import source_health

    return source_health(state, threshold)


@click.command()
@click.option("--check", is_flag=True, help="Fetch every enabled source once now (nothing is stored).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def sources(ctx: click.Context, check: bool, as_json: bool) -> None:
    """List the configured sources with their health (degraded after repeated failures)."""
    from paperbot.domain import utcnow
    from paperbot.sources.registry import source_specs

    settings = settings_for(ctx)
    specs = source_specs(settings)

    async def run(app: App) -> list[dict[str, Any]]:
        built = app.sources
        states = {state.name: state for state in await app.repository.list_source_states()}
        by_name = {source.name: source for source in built}
        checks: dict[str, dict[str, Any]] = {}
        if check:
            day = utcnow().date()

            async def probe(source: Source) -> tuple[str, dict[str, Any]]:
                try:
                    async with asyncio.timeout(settings.source_deadline):
                        result = await source.fetch(day)
                except Exception as exc:  # report every failure; one source never hides the others
                    return source.name, {"ok": False, "error": str(exc) or type(exc).__name__}
                return source.name, {"ok": True, "items": len(result.items), "skipped": result.skipped}

            checks = dict(await asyncio.gather(*(probe(source) for source in built)))
        rows = []
        for spec in specs:
            state = states.get(spec.name)
            rows.append(
                {
                    "name": spec.name,
                    "type": spec.type,
                    "title": spec.title,
                    "url": _shown_url(spec.url or (settings.hf_base_url if spec.type == "hf_daily" else None)),
                    "enabled": spec.enabled and spec.name in by_name,
                    "builtin": spec.builtin,
                    "health": _health(state, settings.source_degraded_after),
                    "last_success_at": state.last_success_at.isoformat() if state and state.last_success_at else None,
                    "consecutive_failures": state.consecutive_failures if state else 0,
                    "last_error": state.last_error if state else None,
                    "check": checks.get(spec.name),
                }
            )
        return rows

    rows = run_app(ctx, run)
    if as_json:
        click.echo(json.dumps({"sources": rows}, ensure_ascii=False))
    else:
        labels = {"ok": "정상", "failing": "오류", "degraded": "성능 저하", "unknown": "기록 없음"}
        for row in rows:
            state = "꺼짐" if not row["enabled"] else labels[row["health"]]
            line = f"{row['name']:<24} {row['type']:<9} {state:<6} {row['url'] or ''}"
            if row["consecutive_failures"]:
                line += f"  (연속 실패 {row['consecutive_failures']}회: {row['last_error']})"
            click.echo(line)
            probe = row["check"]
            if probe is not None:
                result = f"항목 {probe['items']}개" if probe["ok"] else f"실패 — {probe['error']}"
                click.echo(f"{'':<24} 점검: {result}")
    if check and any(row["check"] and not row["check"]["ok"] for row in rows):
        ctx.exit(1)


@click.command()
@click.option("--from", "start", type=_DATE, required=True, help="First HF day (YYYY-MM-DD).")
@click.option("--to", "end", type=_DATE, required=True, help="Last HF day (YYYY-MM-DD), included.")
@click.option("--source", "names", multiple=True, default=("hf_daily",), show_default=True, help="Sources to collect.")
@click.pass_context
def backfill(ctx: click.Context, start: Any, end: Any, names: tuple[str, ...]) -> None:
    """Collect a range of days, a few at a time, with a progress bar; a failed day stops nothing."""
    from paperbot.service.collect import backfill as backfill_use_case

    first: date = start.date()
    last: date = end.date()
    if last < first:
        fail("--to 날짜가 --from 날짜보다 앞섭니다.", code=2)
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]

    async def run(app: App) -> tuple[int, list[str]]:
        _check_names(names, app.sources)
        with click.progressbar(length=len(days), label="수집 중", file=sys.stderr) as bar:
            reports = await backfill_use_case(
                app.repository, app.sources, days, only=list(names), on_day=lambda _report: bar.update(1)
            )
        new = sum(len(report.new_items) for report in reports)
        failures = [f"{r.day.isoformat()} {o.name}: {o.error}" for r in reports for o in r.failed]
        return new, failures

    new, failures = run_app(ctx, run)
    click.echo(f"{len(days)}일 수집 완료: 새 항목 {new}개, 실패 {len(failures)}건")
    for failure in failures[:20]:
        click.echo(f"  {failure}", err=True)
    if failures and len(failures) == len(days) * len(names):
        ctx.exit(1)


def _shown_url(url: str | None) -> str | None:
    """A configured URL as printed: without user-info (a mirror's credentials in PAPERBOT_HF_BASE_URL)."""
    from paperbot.httpclient import redact_url

    return redact_url(url) if url else None
