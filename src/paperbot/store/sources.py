"""Source state (ETag, failures) per source."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select

from paperbot.domain import SourceState
from paperbot.store.models import SourceRow
from paperbot.store.rows import source_state_from_row
from paperbot.store.sqlbase import SqlBase
from paperbot.store.values import storable_state


class SourceStateStore(SqlBase):
    """``SourceStateRepository`` on SQL."""

    async def get_source_state(self, name: str) -> SourceState | None:
        async with self._read() as conn:
            row = (await conn.execute(select(SourceRow.__table__).where(SourceRow.name == name))).one_or_none()
        return source_state_from_row(row) if row is not None else None

    async def save_source_state(self, state: SourceState) -> None:
        values = asdict(storable_state(state))
        stmt = self._insert(SourceRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={k: v for k, v in values.items() if k != "name"}
        )
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def list_source_states(self) -> list[SourceState]:
        async with self._read() as conn:
            rows = (await conn.execute(select(SourceRow.__table__).order_by(SourceRow.name))).all()
        return [source_state_from_row(row) for row in rows]
