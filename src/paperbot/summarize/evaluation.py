"""The summary evaluation harness: what happened to each LLM answer, faithfulness flags and ROUGE on morphemes.

The report judges the model's answers, not only the stored summary (the offline fallback always passes its gate):
per paper it keeps the first answer and its gate result as it came, whether it was kept after deterministic repair,
kept after the repair turn, or replaced by the offline summary, and why. Faithfulness flags are computed on the raw
first answers. ROUGE is reported for the answers kept and for all papers.

ROUGE is computed on morphemes from :func:`paperbot.korean.morphemes` (Kiwi when installed), never with
rouge-score's default tokenizer, which deletes Hangul. Scores are F1 of ROUGE-1, ROUGE-2 and ROUGE-L (LCS) between
the summary's bullets joined and the reference sentences joined, and their mean.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperbot import korean
from paperbot.domain import Item, ItemKind, Summary
from paperbot.errors import ConfigError
from paperbot.ports import Summarizer
from paperbot.summarize.gate import LLM_RULES, OFFLINE_RULES, check
from paperbot.summarize.offline import quotable_text, unquote
from paperbot.summarize.text import collapse_ws

if TYPE_CHECKING:
    from paperbot.summarize.llm import Trace

_QUOTE_RE = re.compile(r"“([^”]*)”")
FAITHFULNESS_CODES = ("number", "name", "script")


@dataclass(frozen=True, slots=True)
class Reference:
    id: str
    title: str
    abstract: str
    sentences: tuple[str, ...]
    day: date | None = None


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    f1: float


def load_references(path: Path) -> list[Reference]:
    """Read a JSONL file: one paper a line with ``id``, ``title``, ``abstract`` and ``ko_reference``/``ko_bullets``."""
    references: list[Reference] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", key="--references") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            sentences = row.get("ko_reference") or row.get("ko_bullets")
            if isinstance(sentences, str):
                sentences = [sentences]
            if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
                raise ValueError("ko_reference/ko_bullets must be a list of strings")
            day = date.fromisoformat(row["day"]) if isinstance(row.get("day"), str) else None
            references.append(
                Reference(
                    id=str(row["id"]),
                    title=str(row["title"]),
                    abstract=str(row.get("abstract") or ""),
                    sentences=tuple(sentences),
                    day=day,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}:{number}: not a reference line ({exc})", key="--references") from None
    if not references:
        raise ConfigError(f"{path} holds no references", key="--references")
    return references


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _score(overlap: int, candidate_total: int, reference_total: int) -> Score:
    precision = overlap / candidate_total if candidate_total else 0.0
    recall = overlap / reference_total if reference_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)


def rouge_n(candidate: Sequence[str], reference: Sequence[str], n: int) -> Score:
    """ROUGE-N with clipped n-gram counts."""
    cand, ref = _ngrams(candidate, n), _ngrams(reference, n)
    return _score(sum((cand & ref).values()), sum(cand.values()), sum(ref.values()))


def _lcs_length(first: Sequence[str], second: Sequence[str]) -> int:
    previous = [0] * (len(second) + 1)
    for a in first:
        current = [0]
        for j, b in enumerate(second, start=1):
            current.append(previous[j - 1] + 1 if a == b else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> Score:
    """ROUGE-L: longest common subsequence over the whole token sequences."""
    return _score(_lcs_length(candidate, reference), len(candidate), len(reference))


def rouge_scores(candidate: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 on Korean morphemes, and their mean."""
    cand, ref = korean.morphemes(candidate), korean.morphemes(reference)
    scores = {
        "rouge1": rouge_n(cand, ref, 1).f1,
        "rouge2": rouge_n(cand, ref, 2).f1,
        "rougeL": rouge_l(cand, ref).f1,
    }
    scores["mean"] = sum(scores.values()) / 3
    return scores


def faithfulness_flags(bullets: Sequence[str], *, title: str, abstract: str) -> list[str]:
    """Facts not in the source: numbers, Latin names, foreign scripts, and quotes that are not verbatim."""
    result = check(bullets, title=title, abstract=abstract, rules=LLM_RULES)
    flags = [problem for problem in result.problems if problem.split(":", 1)[0] in FAITHFULNESS_CODES]
    quotable = quotable_text(abstract)
    for number, bullet in enumerate(bullets, start=1):
        flags.extend(f"quote:{number}" for quote in _QUOTE_RE.findall(bullet) if unquote(quote) not in quotable)
    return flags


#: What happened to a paper's LLM answers: the first kept (after deterministic repair), kept after the repair
#: turn, replaced by the offline summary, or no LLM involved (the offline back-end).
OUTCOMES = ("first", "repair_turn", "fallback", "offline")
_CHANGED_NOTES = ("ending", "echo", "markup")
_DROPPED_NOTES = ("drop", "link", "notice")


@dataclass(slots=True)
class PaperResult:
    id: str
    backend: str
    bullets: list[str]
    gate_ok: bool
    gate_problems: list[str]
    fallback_reason: str | None
    flags: list[str]
    rouge: dict[str, float]
    outcome: str = "offline"
    first_answer: list[str] | None = None
    first_gate: list[str] = field(default_factory=list)
    first_repairs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    turns: int = 0


@dataclass(slots=True)
class EvalReport:
    backend: str
    model: str
    analyzer: str
    papers: list[PaperResult] = field(default_factory=list)

    @property
    def gate_failures(self) -> int:
        return sum(1 for paper in self.papers if not paper.gate_ok)

    @property
    def fallbacks(self) -> int:
        """LLM answers that ended in the offline summary."""
        return sum(1 for paper in self.papers if paper.outcome == "fallback")

    def fallback_reasons(self) -> Counter[str]:
        """Papers per reason kind of their fallback (a paper counts once per kind)."""
        counts: Counter[str] = Counter()
        for paper in self.papers:
            if paper.outcome == "fallback":
                counts.update(set(paper.reasons) or {"unknown"})
        return counts

    def aggregate(self) -> dict[str, Any]:
        count = len(self.papers)

        def mean(key: str, papers: Sequence[PaperResult]) -> float:
            return round(sum(paper.rouge[key] for paper in papers) / len(papers), 4) if papers else 0.0

        outcomes = Counter(paper.outcome for paper in self.papers)
        kept = [paper for paper in self.papers if paper.outcome in ("first", "repair_turn")]
        answered = [paper for paper in self.papers if paper.first_answer is not None]
        notes = [note.split(":", 1)[0] for paper in kept for note in paper.first_repairs]
        return {
            "papers": count,
            "backend": self.backend,
            "model": self.model,
            "analyzer": self.analyzer,
            "llm_answers": len(answered),
            "first_answer_passed_as_is": sum(1 for paper in answered if not paper.first_gate),
            "kept_first_answer": outcomes["first"],
            "kept_after_repair_turn": outcomes["repair_turn"],
            "kept": len(kept),
            "kept_share": round(len(kept) / count, 4) if count else 0.0,
            "repaired_answers": sum(1 for paper in kept if paper.outcome == "first" and paper.first_repairs),
            "repaired_bullets": sum(1 for note in notes if note in _CHANGED_NOTES),
            "dropped_bullets": sum(1 for note in notes if note in _DROPPED_NOTES),
            "cut_bullets": sum(1 for note in notes if note == "cut"),
            "fallbacks": self.fallbacks,
            "fallback_reasons": dict(self.fallback_reasons().most_common()),
            "gate_passed": count - self.gate_failures,
            "gate_failed": self.gate_failures,
            "flagged_papers": sum(1 for paper in self.papers if paper.flags),
            "flags": sum(len(paper.flags) for paper in self.papers),
            "mean_bullets": round(sum(len(p.bullets) for p in self.papers) / count, 2) if count else 0.0,
            "rouge1": mean("rouge1", self.papers),
            "rouge2": mean("rouge2", self.papers),
            "rougeL": mean("rougeL", self.papers),
            "rouge_mean": mean("mean", self.papers),
            "rouge_mean_kept": mean("mean", kept),
        }

    def as_dict(self) -> dict[str, Any]:
        return {"aggregate": self.aggregate(), "papers": [asdict(paper) for paper in self.papers]}


def reference_item(reference: Reference, index: int) -> Item:
    return Item(
        source="eval",
        external_id=reference.id,
        kind=ItemKind.PAPER,
        title=reference.title,
        url=f"https://arxiv.org/abs/{reference.id}",
        day=reference.day or date(2000, 1, 1),
        abstract=reference.abstract,
        id=index + 1,
    )


def _reason_kinds(trace: Trace) -> list[str]:
    """Why the last turn failed: its blocking problem codes, or the failure's kind (``timeout``, ``malformed_json``)."""
    if not trace.turns:
        return []
    last = trace.turns[-1]
    if last.verdict is not None:
        return sorted({problem.split(":", 1)[0] for problem in last.verdict.problems})
    return [(last.failure or "unknown").split("(", 1)[0]]


def judge(reference: Reference, summary: Summary, trace: Trace | None = None) -> PaperResult:
    """Score one paper: the stored summary's gate and ROUGE, and (with a trace) what became of the LLM's answers."""
    bullets = list(summary.bullets)
    title, abstract = collapse_ws(reference.title), collapse_ws(reference.abstract)
    rules = OFFLINE_RULES if summary.backend == "offline" else LLM_RULES
    gate = check(bullets, title=title, abstract=abstract, rules=rules)
    result = PaperResult(
        id=reference.id,
        backend=summary.backend,
        bullets=bullets,
        gate_ok=gate.ok,
        gate_problems=list(gate.problems),
        fallback_reason=summary.fallback_reason,
        flags=[],
        rouge={
            key: round(value, 4)
            for key, value in rouge_scores(" ".join(bullets), " ".join(reference.sentences)).items()
        },
    )
    first = trace.first_answer if trace is not None else None
    if trace is None:
        result.flags = faithfulness_flags(bullets, title=title, abstract=abstract)
        return result
    result.turns = len(trace.turns)
    if first is not None and first.verdict is not None and first.bullets is not None:
        result.first_answer = list(first.bullets)
        result.first_gate = list(first.verdict.raw.problems) if first.verdict.raw is not None else []
        result.first_repairs = list(first.verdict.notes)
        result.flags = faithfulness_flags(first.bullets, title=title, abstract=abstract)
    if summary.backend != "offline":
        kept_turn = next(i for i, turn in enumerate(trace.turns) if turn.verdict is not None and turn.verdict.accepted)
        first_index = trace.turns.index(first) if first is not None else -1
        result.outcome = "first" if kept_turn == first_index else "repair_turn"
    else:
        result.outcome = "fallback"
        result.reasons = _reason_kinds(trace)
    return result


async def evaluate(references: Sequence[Reference], summarizer: Summarizer, *, concurrency: int = 4) -> EvalReport:
    """Summarise each reference paper with ``summarizer`` (bounded concurrency) and judge the result.

    An LLM summariser is asked for its trace, so the report can say what became of each answer.
    """
    from paperbot.summarize.llm import LlmSummarizer

    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, reference: Reference) -> PaperResult:
        item = reference_item(reference, index)
        async with semaphore:
            if isinstance(summarizer, LlmSummarizer):
                summary, trace = await summarizer.summarize_traced(item)
            else:
                summary, trace = await summarizer.summarize(item), None
        # ROUGE loads Kiwi and tokenises: off the event loop.
        return await asyncio.to_thread(judge, reference, summary, trace)

    report = EvalReport(backend=summarizer.backend, model=summarizer.model, analyzer=korean.analyzer_name())
    report.papers = list(await asyncio.gather(*(one(i, reference) for i, reference in enumerate(references))))
    return report
