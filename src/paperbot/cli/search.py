"""``paperbot search``: search every paper and post collected so far, in Korean or English."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, run_app

if TYPE_CHECKING:
    from paperbot.bootstrap import App


def _since(value: str | None) -> date | None:
    """``YYYY-MM-DD`` or ``Nd`` (the last N days, counted in UTC)."""
    if value is None:
        return None
    from paperbot.domain import utcnow
    from paperbot.service.search import parse_since

    try:
        return parse_since(value, utcnow().date())
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD 또는 7d 같은 형식이어야 합니다", param_hint="--since") from None


def _plain(text: str) -> str:
    """Untrusted text made safe for a terminal: control and format characters (ANSI escapes, bidi overrides)
    removed, whitespace collapsed."""
    return " ".join("".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n").split())


@click.command()
@click.argument("query", nargs=-1)
@click.option(
    "--limit", type=click.IntRange(min=1, max=25), default=10, show_default=True, help="At most this many results."
)
@click.option("--since", "since", default=None, help="Only items of this day or later: YYYY-MM-DD, or 7d, 30d.")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable), e.g. hf_daily.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--reindex", is_flag=True, help="Rebuild the search index (after installing or removing kiwipiepy).")
@click.pass_context
def search(
    ctx: click.Context,
    *,
    query: tuple[str, ...],
    limit: int,
    since: str | None,
    sources: tuple[str, ...],
    as_json: bool,
    reindex: bool,
) -> None:
    """Search collected papers and posts: titles, abstracts, Korean summaries, authors, HF keywords.

    \b
    Korean works with particles and compounds (모델 finds 모델의, 언어모델 finds 언어 모델);
    partial words fall back to substring matches. Example: paperbot search 언어 모델 --since 30d
    """
    from paperbot.service.search import SearchOutcome
    from paperbot.service.search import search as run_search

    text = " ".join(query)
    if not text.strip() and not reindex:
        fail("검색어를 입력해 주세요. 예: paperbot search 언어 모델", code=2)
    day_from = _since(since)

    async def run(app: App) -> tuple[int | None, SearchOutcome | None]:
        count = await app.repository.reindex_search() if reindex else None
        outcome = None
        if text.strip():
            outcome = await run_search(app.repository, text, limit=limit, since=day_from, sources=sources or None)
        return count, outcome

    count, outcome = run_app(ctx, run)
    if count is not None:
        click.echo(f"검색 색인을 다시 만들었습니다: {count}건", err=as_json)
    if outcome is None:
        return
    if as_json:
        payload = {"query": outcome.query, "results": [result.as_dict() for result in outcome.results]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not outcome.results:
        click.echo(outcome.notice or "검색 결과가 없습니다.")
        return
    click.echo(f"검색 결과 {len(outcome.results)}건: {_plain(outcome.query)}")
    for n, result in enumerate(outcome.results, start=1):
        item = result.item
        click.echo()
        click.echo(f"{n}. {_plain(item.title)}")
        votes = f"HF 추천 {result.hf_upvotes} · 팀 투표 {result.team_votes:+d}"
        click.echo(f"   {item.day.isoformat()} · {_plain(item.source)} · {votes}")
        click.echo(f"   {_plain(item.url)}")
        bullet = result.first_bullet
        click.echo(f"   - {_plain(bullet)}" if bullet else "   (아직 요약이 없습니다)")
