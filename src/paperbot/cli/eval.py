"""``paperbot eval summaries``: summarise a reference set and score it (gate, faithfulness, Korean ROUGE)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paperbot.cli.common import fail, settings_for

if TYPE_CHECKING:
    from paperbot.summarize.evaluation import EvalReport

BACKENDS = ("offline", "openai_compat", "anthropic")


@click.group("eval")
def eval_group() -> None:
    """Evaluate paperbot's output against references."""


@eval_group.command("summaries")
@click.option(
    "--references",
    "references_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="JSONL: one paper a line with id, title, abstract and ko_reference (or ko_bullets).",
)
@click.option(
    "--backend", type=click.Choice(BACKENDS), default=None, help="Summariser to evaluate. Default: the configured one."
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N papers.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report (every paper) as JSON.")
@click.pass_context
def summaries(ctx: click.Context, references_path: Path, backend: str | None, limit: int | None, as_json: bool) -> None:
    """Summarise each reference paper and report gate results, faithfulness flags and ROUGE-1/2/L on morphemes.

    Exits with 1 when any summary fails the gate.
    """
    from paperbot.errors import ConfigError
    from paperbot.httpclient import make_http_client
    from paperbot.summarize.evaluation import evaluate, load_references
    from paperbot.summarize.registry import build_summarizer

    settings = settings_for(ctx)
    if backend is not None:
        settings = settings.model_copy(update={"llm_provider": backend})
    try:
        references = load_references(references_path)
    except ConfigError as exc:
        fail(f"참조 파일을 읽지 못했습니다: {exc}", code=2)
    if limit is not None:
        references = references[:limit]

    async def run() -> EvalReport:
        async with make_http_client(settings) as http:
            summarizer = build_summarizer(settings, http, None)
            return await evaluate(references, summarizer, concurrency=settings.llm_concurrency)

    report = asyncio.run(run())
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(report)
    if report.gate_failures:
        ctx.exit(1)


def _print_report(report: EvalReport) -> None:
    for paper in report.papers:
        gate = "통과" if paper.gate_ok else "실패(" + ", ".join(paper.gate_problems[:4]) + ")"
        flags = ", ".join(paper.flags[:4]) if paper.flags else "-"
        fallback = f" 대체={paper.fallback_reason[:60]}" if paper.fallback_reason else ""
        r = paper.rouge
        click.echo(
            f"{paper.id}\t게이트 {gate}\t플래그 {flags}\tR1 {r['rouge1']:.3f} R2 {r['rouge2']:.3f} "
            f"RL {r['rougeL']:.3f} 평균 {r['mean']:.3f}{fallback}"
        )
    agg = report.aggregate()
    click.echo()
    click.echo(
        f"백엔드 {agg['backend']} (모델 {agg['model']}), 형태소 분석기 {agg['analyzer']}, 논문 {agg['papers']}편"
    )
    click.echo(
        f"게이트 통과 {agg['gate_passed']}편, 실패 {agg['gate_failed']}편, 오프라인 대체 {agg['fallbacks']}편, "
        f"사실 확인 플래그 {agg['flags']}개 ({agg['flagged_papers']}편), 평균 항목 수 {agg['mean_bullets']}"
    )
    click.echo(
        f"ROUGE F1 (형태소): R1 {agg['rouge1']:.4f}  R2 {agg['rouge2']:.4f}  RL {agg['rougeL']:.4f}  "
        f"평균 {agg['rouge_mean']:.4f}"
    )
