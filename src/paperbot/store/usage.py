"""LLM usage records and daily totals."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from paperbot.domain import LlmUsage, UsageTotals, utcnow
from paperbot.store.models import LlmUsageRow
from paperbot.store.sqlbase import SqlBase


class UsageStore(SqlBase):
    """``UsageRepository`` on SQL."""

    async def record_usage(self, usage: LlmUsage) -> None:
        async with self._tx() as conn:
            await conn.execute(
                self._insert(LlmUsageRow).values(
                    day=usage.day,
                    backend=usage.backend,
                    model=usage.model,
                    item_id=usage.item_id,
                    tokens_in=usage.tokens_in,
                    tokens_out=usage.tokens_out,
                    cost_usd=usage.cost_usd,
                    created_at=usage.created_at or utcnow(),
                )
            )

    async def usage_totals(self, day: date) -> UsageTotals:
        stmt = select(
            func.count(LlmUsageRow.id),
            func.coalesce(func.sum(LlmUsageRow.tokens_in), 0),
            func.coalesce(func.sum(LlmUsageRow.tokens_out), 0),
            func.coalesce(func.sum(LlmUsageRow.cost_usd), 0.0),
        ).where(LlmUsageRow.day == day)
        async with self._read() as conn:
            calls, tokens_in, tokens_out, cost = (await conn.execute(stmt)).one()
        return UsageTotals(calls=int(calls), tokens_in=int(tokens_in), tokens_out=int(tokens_out), cost_usd=float(cost))
