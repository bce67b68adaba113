"""FakeSummarizer: queued answers, a call log, a fixed cost per call, and an in-flight counter."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from paperbot.domain import Item, Summary
from paperbot.summarize.offline import OfflineSummarizer
from paperbot.summarize.text import input_hash


class FakeSummarizer:
    backend = "openai_compat"
    model = "fake-model"
    prompt_version = "fake-1"

    def __init__(
        self,
        answers: Iterable[tuple[str, ...] | Exception] = (),
        *,
        cost_per_call: float = 0.01,
        daily_budget_usd: float | None = None,
        pause: float = 0.0,
    ) -> None:
        self.answers: deque[tuple[str, ...] | Exception] = deque(answers)
        self.cost_per_call = cost_per_call
        self.daily_budget_usd = daily_budget_usd
        self.pause = pause
        self.calls: list[Item] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._offline = OfflineSummarizer()

    def cache_key(self, item: Item) -> tuple[str, str, str]:
        return input_hash(item, 4000), self.prompt_version, self.model

    async def summarize(self, item: Item) -> Summary:
        self.calls.append(item)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.pause)
            answer = self.answers.popleft() if self.answers else ("가짜 요약 문장입니다.",) * 3
            if isinstance(answer, Exception):
                raise answer
            return Summary(
                item_id=item.id or 0,
                bullets=answer,
                backend=self.backend,
                model=self.model,
                prompt_version=self.prompt_version,
                input_hash=self.cache_key(item)[0],
                tokens_in=100,
                tokens_out=50,
                cost_usd=self.cost_per_call,
            )
        finally:
            self.in_flight -= 1

    async def fallback(self, item: Item, reason: str) -> Summary:
        return await self._offline.fallback(item, reason)
