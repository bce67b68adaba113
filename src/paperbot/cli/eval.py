"""``paperbot eval summaries``: summarise a reference set and say what became of the LLM's answers, with
faithfulness flags and Korean ROUGE."""

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
@click.option(
    "--max-fallbacks",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="How many LLM answers may end in the offline fallback before the run fails (exit 1).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report (every paper) as JSON.")
@click.pass_context
def summaries(
    ctx: click.Context,
    *,
    references_path: Path,
    backend: str | None,
    limit: int | None,
    max_fallbacks: int,
    as_json: bool,
) -> None:
    """Summarise each reference paper and report, per paper and in total: the first answer and its gate result,
    whether it was kept after repair, kept after the repair turn or replaced by the offline summary (and why),
    faithfulness flags on the raw answers, and ROUGE-1/2/L on morphemes for kept answers and for all.

    Exits with 1 when more LLM answers ended in the fallback than --max-fallbacks allows, or when a stored summary
    fails its gate.
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
    failed = []
    if report.fallbacks > max_fallbacks:
        failed.append(f"LLM 답변 {report.fallbacks}편이 오프라인 요약으로 대체되었습니다 (허용 {max_fallbacks}편).")
    if report.gate_failures:
        failed.append(f"저장될 요약 {report.gate_failures}편이 게이트를 통과하지 못했습니다.")
    for line in failed:
        click.echo(line, err=True)
    if failed:
        ctx.exit(1)


_OUTCOME_LABELS = {
    "first": "첫 답변 사용",
    "repair_turn": "재요청 후 사용",
    "fallback": "오프라인 대체",
    "offline": "오프라인",
}


def _print_report(report: EvalReport) -> None:
    for paper in report.papers:
        gate = "통과" if paper.gate_ok else "실패(" + ", ".join(paper.gate_problems[:4]) + ")"
        flags = ", ".join(paper.flags[:4]) if paper.flags else "-"
        why = f"({', '.join(paper.reasons)})" if paper.reasons else ""
        repairs = f" 수선 {len(paper.first_repairs)}건" if paper.first_repairs and paper.outcome == "first" else ""
        r = paper.rouge
        click.echo(
            f"{paper.id}\t{_OUTCOME_LABELS[paper.outcome]}{why}{repairs}\t게이트 {gate}\t플래그 {flags}\t"
            f"R1 {r['rouge1']:.3f} R2 {r['rouge2']:.3f} RL {r['rougeL']:.3f} 평균 {r['mean']:.3f}"
        )
    agg = report.aggregate()
    click.echo()
    click.echo(
        f"백엔드 {agg['backend']} (모델 {agg['model']}), 형태소 분석기 {agg['analyzer']}, 논문 {agg['papers']}편"
    )
    if agg["backend"] != "offline":
        click.echo(
            f"LLM 요청 {agg['papers']}편, 답변 {agg['llm_answers']}편: 그대로 통과 {agg['first_answer_passed_as_is']}편, "
            f"수선 후 첫 답변 사용 {agg['kept_first_answer']}편, 재요청 후 사용 {agg['kept_after_repair_turn']}편, "
            f"오프라인 대체 {agg['fallbacks']}편 (LLM 한국어로 저장 {agg['kept_share']:.1%})"
        )
        click.echo(
            f"수선: 답변 {agg['repaired_answers']}편, 고친 항목 {agg['repaired_bullets']}개, "
            f"뺀 항목 {agg['dropped_bullets']}개, 개수 초과로 자른 항목 {agg['cut_bullets']}개"
        )
        for reason, count in agg["fallback_reasons"].items():
            click.echo(f"오프라인 대체 사유 {reason}: {count}편")
    basis = ", LLM 첫 답변 기준" if agg["backend"] != "offline" else ""
    click.echo(
        f"게이트 통과 {agg['gate_passed']}편, 실패 {agg['gate_failed']}편, "
        f"사실 확인 플래그 {agg['flags']}개 ({agg['flagged_papers']}편{basis}), 평균 항목 수 {agg['mean_bullets']}"
    )
    click.echo(
        f"ROUGE F1 (형태소, 전체): R1 {agg['rouge1']:.4f}  R2 {agg['rouge2']:.4f}  RL {agg['rougeL']:.4f}  "
        f"평균 {agg['rouge_mean']:.4f}"
        + (f"  ·  LLM 답변을 쓴 논문만: 평균 {agg['rouge_mean_kept']:.4f}" if agg["kept"] else "")
    )
