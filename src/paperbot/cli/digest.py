"""``paperbot digest``: the main job. Collects, summarises what is pending, builds the digest and renders it."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, run_app, settings_for

if TYPE_CHECKING:
    from paperbot.bootstrap import App
    from paperbot.domain import Digest, Target
    from paperbot.service.pipeline import Prepared
    from paperbot.service.publish import PublishResult

TARGET_HELP = "console (default), markdown, discord:CHANNEL_ID or slack:CHANNEL_ID"
#: Exit status when every source failed to collect: the digest is still printed (or posted) from what is stored,
#: but cron must be able to tell a network outage from a quiet day.
EXIT_ALL_SOURCES_FAILED = 3


def _report_published(target: str, result: PublishResult) -> None:
    """One line for operators and cron logs; exit 1 when the digest is not fully posted (a rerun resumes it)."""
    day = result.run.day.isoformat()
    if result.already_done:
        click.echo(f"{target}: {day} 다이제스트는 이미 게시되었습니다. 다시 보내지 않습니다.")
        return
    if result.broken_reason:
        fail(f"{target}: 채널에 게시할 수 없습니다 ({result.broken_reason}). 구독을 '깨짐'으로 표시했습니다.", code=1)
    counts = f"보냄 {result.sent}, 확인됨 {result.reconciled}, 실패 {result.failed}"
    if not result.complete:
        fail(
            f"{target}: {day} 다이제스트를 모두 게시하지 못했습니다 ({counts}; {result.error}). 다시 실행하면 이어서 보냅니다."
        )
    click.echo(f"{target}: {day} 다이제스트를 게시했습니다 ({counts}).")


def _parse_target(value: str) -> tuple[str, Target | None]:
    """``console``/``markdown`` → (kind, None); ``discord:123`` → (``discord``, its :class:`Target`)."""
    if value in ("console", "markdown"):
        return value, None
    from paperbot.domain import Target
    from paperbot.errors import ConfigError

    try:
        target = Target.parse(value)
    except ConfigError as exc:
        raise click.BadParameter(f"{exc.user_message} ({TARGET_HELP})") from None
    return target.platform, target


@click.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="HF day to cover (YYYY-MM-DD). Default: the HF day that ended before 09:00 Asia/Seoul today, i.e. "
    "yesterday's UTC date (at 09:00 KST = 00:00 UTC that day has just ended). Weekly: the week ending on it.",
)
@click.option(
    "--kind",
    type=click.Choice(["daily", "weekly"]),
    default="daily",
    show_default=True,
    help="Daily or weekly best-of.",
)
@click.option("--to", "to", default="console", show_default=True, metavar="TARGET", help=TARGET_HELP)
@click.option(
    "--dry-run", is_flag=True, help="For discord:/slack: targets, print the exact JSON payloads; post nothing."
)
@click.option(
    "--no-collect", is_flag=True, help="Do not fetch sources; use what is stored (pending items are still summarised)."
)
@click.pass_context
def digest(  # noqa: PLR0917 (click passes one argument per option)
    ctx: click.Context, day: datetime | None, kind: str, to: str, dry_run: bool, no_collect: bool
) -> None:
    """Build the daily (or weekly) digest and print it, or print what would be posted.

    \b
    Which day: a digest covers one Hugging Face Daily Papers day, a UTC date that fills mostly between
    00:00 and 03:00 UTC. Without --date it is the day that ended before 09:00 in Asia/Seoul (the
    PAPERBOT_TIMEZONE setting), so the 09:00 KST digest of 2024-04-20 covers 2024-04-19.

    \b
    Exit status: 0 done; 1 not fully posted (a rerun resumes) or the database is not ready; 2 a
    configuration error; 3 every source failed to collect (the digest is still printed or posted from
    what is stored, and names the failed sources). Sources that fail are listed on stderr.
    """
    from paperbot.digest.days import covered_day
    from paperbot.domain import DigestKind, utcnow

    target_kind, target = _parse_target(to)
    publishing = target is not None and not dry_run
    settings = settings_for(ctx)
    if publishing:
        token_setting = "discord_token" if target_kind == "discord" else "slack_bot_token"
        if getattr(settings, token_setting) is None:
            fail(f"설정 오류: PAPERBOT_{token_setting.upper()}가 없어 {target}에 게시할 수 없습니다.", code=2)
    target_day: date = day.date() if day is not None else covered_day(utcnow(), settings.timezone)
    digest_kind = DigestKind(kind)

    async def run(app: App) -> tuple[Prepared, PublishResult | None]:
        prepared = await app.pipeline.prepare(target_day, digest_kind, target, fetch=not no_collect)
        _report_collected(target_day, prepared)
        if prepared.summarized.pending:
            click.echo(prepared.summarized.status(), err=True)
        if not publishing or target is None:
            return prepared, None
        return prepared, await app.pipeline.publish(prepared.digest, target)

    prepared, published = run_app(ctx, run)
    if published is not None:
        _report_published(str(target), published)
    else:
        _print(prepared.digest, target_kind, str(target) if target else None, kind, target_day)
    if prepared.all_sources_failed:
        failed_names = prepared.failed_sources
        fail(
            f"모든 출처({len(failed_names)}곳)를 가져오지 못했습니다: {', '.join(failed_names)}. "
            "네트워크와 출처 상태를 확인하세요 ('paperbot sources --check').",
            code=EXIT_ALL_SOURCES_FAILED,
        )


def _report_collected(day: date, prepared: Prepared) -> None:
    if prepared.collect_timed_out:
        click.echo(f"{day.isoformat()} 수집: 제한 시간을 넘겨 저장된 항목으로 만듭니다.", err=True)
    report = prepared.collected
    if report is None:
        return
    failed = report.failed
    click.echo(
        f"{day.isoformat()} 수집: 새 항목 {len(report.new_items)}개"
        + (f", 실패한 출처 {len(failed)}곳" if failed else ""),
        err=True,
    )
    for outcome in failed:
        click.echo(f"  - {outcome.name}: {outcome.error}", err=True)


def _print(built: Digest, target_kind: str, target: str | None, kind: str, target_day: date) -> None:
    if target_kind == "markdown":
        from paperbot.digest.render.markdown import render_markdown

        click.echo(render_markdown(built), nl=False)
    elif target_kind == "console":
        from paperbot.digest.render.console import render_console

        click.echo(render_console(built), nl=False)
    else:
        from paperbot.digest.render.discord import render_discord
        from paperbot.digest.render.slack import render_slack

        messages = render_discord(built) if target_kind == "discord" else render_slack(built)
        payloads = [
            {
                "item_id": m.item_id,
                "part": m.part,
                **({"thread": True} if m.meta.get("thread") else {}),
                "payload": m.payload,
            }
            for m in messages
        ]
        click.echo(
            json.dumps(
                {"target": target, "kind": kind, "day": target_day.isoformat(), "messages": payloads},
                ensure_ascii=False,
                indent=2,
            )
        )
