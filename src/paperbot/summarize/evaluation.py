"""The summary evaluation harness: gate results, faithfulness flags and ROUGE on Korean morphemes.

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
from typing import Any

from paperbot import korean
from paperbot.domain import Item, ItemKind, Summary
from paperbot.errors import ConfigError
from paperbot.ports import Summarizer
from paperbot.summarize.gate import LLM_RULES, OFFLINE_RULES, check
from paperbot.summarize.text import collapse_ws

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
    for number, bullet in enumerate(bullets, start=1):
        flags.extend(f"quote:{number}" for quote in _QUOTE_RE.findall(bullet) if quote not in abstract)
    return flags


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


@dataclass(slots=True)
class EvalReport:
    backend: str
    model: str
    analyzer: str
    papers: list[PaperResult] = field(default_factory=list)

    @property
    def gate_failures(self) -> int:
        return sum(1 for paper in self.papers if not paper.gate_ok)

    def aggregate(self) -> dict[str, Any]:
        count = len(self.papers)

        def mean(key: str) -> float:
            return round(sum(paper.rouge[key] for paper in self.papers) / count, 4) if count else 0.0

        return {
            "papers": count,
            "backend": self.backend,
            "model": self.model,
            "analyzer": self.analyzer,
            "gate_passed": count - self.gate_failures,
            "gate_failed": self.gate_failures,
            "fallbacks": sum(1 for paper in self.papers if paper.fallback_reason is not None),
            "flagged_papers": sum(1 for paper in self.papers if paper.flags),
            "flags": sum(len(paper.flags) for paper in self.papers),
            "mean_bullets": round(sum(len(p.bullets) for p in self.papers) / count, 2) if count else 0.0,
            "rouge1": mean("rouge1"),
            "rouge2": mean("rouge2"),
            "rougeL": mean("rougeL"),
            "rouge_mean": mean("mean"),
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


def judge(reference: Reference, summary: Summary) -> PaperResult:
    bullets = list(summary.bullets)
    title, abstract = collapse_ws(reference.title), collapse_ws(reference.abstract)
    rules = OFFLINE_RULES if summary.backend == "offline" else LLM_RULES
    gate = check(bullets, title=title, abstract=abstract, rules=rules)
    return PaperResult(
        id=reference.id,
        backend=summary.backend,
        bullets=bullets,
        gate_ok=gate.ok,
        gate_problems=list(gate.problems),
        fallback_reason=summary.fallback_reason,
        flags=faithfulness_flags(bullets, title=title, abstract=abstract),
        rouge={
            key: round(value, 4)
            for key, value in rouge_scores(" ".join(bullets), " ".join(reference.sentences)).items()
        },
    )


async def evaluate(references: Sequence[Reference], summarizer: Summarizer, *, concurrency: int = 4) -> EvalReport:
    """Summarise each reference paper with ``summarizer`` (bounded concurrency) and judge the result."""
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, reference: Reference) -> Summary:
        async with semaphore:
            return await summarizer.summarize(reference_item(reference, index))

    summaries = await asyncio.gather(*(one(i, reference) for i, reference in enumerate(references)))
    report = EvalReport(backend=summarizer.backend, model=summarizer.model, analyzer=korean.analyzer_name())
    report.papers = [judge(reference, summary) for reference, summary in zip(references, summaries, strict=True)]
    return report
