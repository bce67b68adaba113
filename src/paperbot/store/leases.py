"""Leader leases."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, text

from paperbot.domain import utcnow
from paperbot.store.models import LeaseRow
from paperbot.store.sqlbase import SqlBase


class LeaseStore(SqlBase):
    """``LeaseRepository`` on SQL."""

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None) -> bool:
        """One upsert that only overwrites a row held by ``holder`` or expired.

        PostgreSQL: under ``pg_advisory_xact_lock`` (released with the transaction, never left behind by a dead
        connection) so concurrent takeovers queue instead of racing. SQLite: ``BEGIN IMMEDIATE`` serialises writers.
        """
        now = now or utcnow()
        expires_at = now + ttl
        table = LeaseRow.__table__
        stmt = self._insert(table).values(name=name, holder=holder, expires_at=expires_at)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": expires_at},
            where=or_(table.c.holder == holder, table.c.expires_at <= now),
        ).returning(table.c.holder)
        async with self._tx() as conn:
            if self._dialect == "postgresql":
                key = zlib.crc32(f"paperbot.lease:{name}".encode()) - 2**31
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            won = (await conn.execute(stmt)).scalar_one_or_none()
        return won == holder

    async def release_lease(self, name: str, holder: str) -> None:
        async with self._tx() as conn:
            await conn.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
