"""Votes and the inbound-event ledger that deduplicates them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, delete, func, select

from paperbot.domain import Vote, utcnow
from paperbot.store.models import ProcessedEventRow, VoteRow
from paperbot.store.sqlbase import SqlBase


class VoteStore(SqlBase):
    """``VoteRepository`` and ``EventRepository`` on SQL."""

    async def add_vote(self, vote: Vote) -> bool:
        stmt = (
            self._insert(VoteRow)
            .values(
                platform=vote.platform,
                message_id=vote.message_id,
                voter_hash=vote.voter_hash,
                emoji=vote.emoji,
                value=vote.value,
                channel_id=vote.channel_id,
                item_id=vote.item_id,
                created_at=vote.created_at or utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["platform", "message_id", "voter_hash", "emoji"])
            .returning(VoteRow.id)
        )
        async with self._tx() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none() is not None

    async def remove_vote(self, platform: str, message_id: str, voter_hash: str, emoji: str) -> bool:
        stmt = delete(VoteRow).where(
            VoteRow.platform == platform,
            VoteRow.message_id == message_id,
            VoteRow.voter_hash == voter_hash,
            VoteRow.emoji == emoji,
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def list_votes(self, platform: str, message_id: str) -> list[Vote]:
        stmt = (
            select(VoteRow.__table__)
            .where(VoteRow.platform == platform, VoteRow.message_id == message_id)
            .order_by(VoteRow.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Vote(
                platform=row.platform,
                message_id=row.message_id,
                voter_hash=row.voter_hash,
                emoji=row.emoji,
                value=row.value,
                channel_id=row.channel_id,
                item_id=row.item_id,
                created_at=row.created_at,
            )
            for row in rows
        ]

    async def vote_totals(self, item_ids: Sequence[int], *, channel_id: str | None = None) -> dict[int, int]:
        if not item_ids:
            return {}
        conditions: list[ColumnElement[bool]] = [VoteRow.item_id.in_(list(item_ids))]
        if channel_id is not None:
            conditions.append(VoteRow.channel_id == channel_id)
        stmt = select(VoteRow.item_id, func.sum(VoteRow.value)).where(and_(*conditions)).group_by(VoteRow.item_id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return {int(item_id): int(total or 0) for item_id, total in rows if item_id is not None}

    # --- inbound events ---
    async def mark_event_processed(self, platform: str, event_id: str) -> bool:
        stmt = (
            self._insert(ProcessedEventRow)
            .values(platform=platform, event_id=event_id, processed_at=utcnow())
            .on_conflict_do_nothing(index_elements=["platform", "event_id"])
            .returning(ProcessedEventRow.id)
        )
        async with self._tx() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none() is not None
