"""Use case: summarise every item that has no summary yet.

Looks the cache up first (the same input, prompt version and model is never paid for twice, across restarts),
records the tokens and cost of every model call, and when the daily budget is spent gives the rest of the day's
items the offline summary (``fallback_reason="budget"``). An item is never dropped: each one leaves with a summary.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from paperbot.domain import Item, LlmUsage, Summary, utcnow
from paperbot.errors import PaperbotError
from paperbot.ports import Repository, Summarizer

log = logging.getLogger(__name__)

BUDGET_REASON = "budget"


@dataclass(slots=True)
class SummarizeReport:
    """What one run did. ``summaries`` holds every item's summary (from the cache or new), in the items' order."""

    pending: int = 0
    from_cache: int = 0
    llm: int = 0
    offline: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    budget_exhausted: bool = False
    backend: str = ""
    model: str = ""
    summaries: list[Summary] = field(default_factory=list)

    @property
    def offline_mode(self) -> bool:
        """True when every summary of this run is an offline one (the digest then says so)."""
        return bool(self.summaries) and all(summary.backend == "offline" for summary in self.summaries)

    def status(self) -> str:
        """One Korean line for users and operators."""
        if not self.pending:
            return "요약할 새 항목이 없습니다."
        fallback_count = sum(self.fallbacks.values())
        parts = [f"{self.pending}건 요약: LLM {self.llm}건, 캐시 {self.from_cache}건, 오프라인 {self.offline}건"]
        if fallback_count:
            parts.append(f"(그중 오프라인 대체 {fallback_count}건)")
        text = " ".join(parts) + "."
        if self.tokens_in or self.tokens_out:
            text += f" 토큰 입력 {self.tokens_in:,}개, 출력 {self.tokens_out:,}개, 비용 ${self.cost_usd:.4f}."
        if self.budget_exhausted:
            text += " 오늘 LLM 예산을 모두 써서 나머지는 오프라인 요약으로 만들었습니다."
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "from_cache": self.from_cache,
            "llm": self.llm,
            "offline": self.offline,
            "fallbacks": dict(self.fallbacks),
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6),
            "budget_exhausted": self.budget_exhausted,
            "offline_mode": self.offline_mode,
            "backend": self.backend,
            "model": self.model,
            "status": self.status(),
        }


def _reason_kind(reason: str) -> str:
    """The kind of the last failure in a fallback reason (``timeout; gate(...)`` → ``gate``), for counting."""
    head = reason.rsplit(";", 1)[-1].strip() if reason else ""
    return head.split("(", 1)[0].split(":", 1)[0] or "unknown"


async def summarize_pending(
    repository: Repository,
    summarizer: Summarizer,
    *,
    day_from: date | None = None,
    limit: int | None = None,
    concurrency: int = 4,
    daily_budget_usd: float | None = None,
    today: Callable[[], date] | None = None,
) -> SummarizeReport:
    """Summarise the items without a summary (newest day first), at most ``concurrency`` model calls at a time.

    ``daily_budget_usd`` defaults to the summariser's own (from settings); ``today`` gives the budget's day
    (default: the UTC date).
    """
    items = await repository.items_without_summary(day_from=day_from, limit=limit)
    report = SummarizeReport(pending=len(items), backend=summarizer.backend, model=summarizer.model)
    budget = daily_budget_usd if daily_budget_usd is not None else summarizer.daily_budget_usd
    current_day = today or (lambda: utcnow().date())
    semaphore = asyncio.Semaphore(max(1, concurrency))
    results: list[Summary | None] = [None] * len(items)

    async def over_budget() -> bool:
        if budget is None or summarizer.backend == "offline":
            return False
        totals = await repository.usage_totals(current_day())
        return totals.cost_usd >= budget

    async def one(index: int, item: Item) -> None:
        item_id = item.id
        if item_id is None:
            raise PaperbotError("items_without_summary returned an item without an id")
        input_hash, prompt_version, model = summarizer.cache_key(item)
        cached = await repository.find_summary(item_id, input_hash, prompt_version, model)
        if cached is not None:
            report.from_cache += 1
            results[index] = cached
            return
        async with semaphore:
            if await over_budget():
                report.budget_exhausted = True
                summary = await summarizer.fallback(item, BUDGET_REASON)
            else:
                try:
                    summary = await summarizer.summarize(item)
                except Exception as exc:  # a summariser bug must not drop the item
                    log.exception("summarizer failed", extra={"item_id": item_id})
                    summary = await summarizer.fallback(item, f"error({type(exc).__name__})")
        summary = _with_item_id(summary, item_id)
        if summary.tokens_in or summary.tokens_out or summary.cost_usd:
            await repository.record_usage(
                LlmUsage(
                    day=current_day(),
                    backend=summarizer.backend,
                    model=summarizer.model,
                    tokens_in=summary.tokens_in,
                    tokens_out=summary.tokens_out,
                    cost_usd=summary.cost_usd,
                    item_id=item_id,
                )
            )
            report.tokens_in += summary.tokens_in
            report.tokens_out += summary.tokens_out
            report.cost_usd += summary.cost_usd
        stored = await repository.add_summary(summary)
        if stored.created:
            if summary.fallback_reason is not None:
                report.fallbacks[_reason_kind(summary.fallback_reason)] += 1
            if summary.backend == "offline":
                report.offline += 1
            else:
                report.llm += 1
        else:
            report.from_cache += 1  # another worker stored the same key first: theirs wins
        results[index] = stored.value

    await asyncio.gather(*(one(index, item) for index, item in enumerate(items)))
    report.summaries = [summary for summary in results if summary is not None]
    log.info("summarize done", extra=report.as_dict())
    return report


def _with_item_id(summary: Summary, item_id: int) -> Summary:
    return summary if summary.item_id == item_id else replace(summary, item_id=item_id)
