"""Digest runs and their deliveries (one row per posted chunk)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, update

from paperbot.domain import Delivery, DeliveryState, DigestKind, DigestRun, RunStatus, Stored, utcnow
from paperbot.store.deliveries import store_chunks
from paperbot.store.models import DeliveryRow, DigestRunRow
from paperbot.store.rows import chunk_columns, delivery_from_row, run_from_row
from paperbot.store.sqlbase import SqlBase


class RunStore(SqlBase):
    """``DeliveryRepository`` on SQL."""

    async def claim_run(self, target: str, kind: DigestKind, day: date) -> Stored[DigestRun]:
        async with self._tx() as conn:
            stmt = (
                self._insert(DigestRunRow)
                .values(
                    target=target,
                    kind=kind.value,
                    day=day,
                    status=RunStatus.PENDING.value,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["target", "kind", "day"])
                .returning(*DigestRunRow.__table__.c)
            )
            row = (await conn.execute(stmt)).one_or_none()
            if row is not None:
                return Stored(run_from_row(row), created=True)
            row = (
                await conn.execute(
                    select(DigestRunRow.__table__).where(
                        DigestRunRow.target == target,
                        DigestRunRow.kind == kind.value,
                        DigestRunRow.day == day,
                    )
                )
            ).one()
        return Stored(run_from_row(row), created=False)

    async def set_run_status(self, run_id: int, status: RunStatus, *, note: str | None = None) -> None:
        values: dict[str, Any] = {"status": status.value, "note": note}
        if status in (RunStatus.DONE, RunStatus.SKIPPED, RunStatus.FAILED):
            values["finished_at"] = utcnow()
        async with self._tx() as conn:
            await conn.execute(update(DigestRunRow).where(DigestRunRow.id == run_id).values(**values))

    async def add_delivery(self, delivery: Delivery) -> Stored[Delivery]:
        now = utcnow()
        async with self._tx() as conn:
            stmt = (
                self._insert(DeliveryRow)
                .values(
                    run_id=delivery.run_id,
                    target=delivery.target,
                    chunk=delivery.chunk,
                    state=delivery.state.value,
                    item_id=delivery.item_id,
                    platform_message_id=delivery.platform_message_id,
                    attempts=delivery.attempts,
                    last_error=delivery.last_error,
                    created_at=now,
                    updated_at=now,
                    **chunk_columns(delivery.content),
                )
                .on_conflict_do_nothing(index_elements=["run_id", "target", "chunk"])
                .returning(*DeliveryRow.__table__.c)
            )
            row = (await conn.execute(stmt)).one_or_none()
            if row is not None:
                return Stored(delivery_from_row(row), created=True)
            row = (
                await conn.execute(
                    select(DeliveryRow.__table__).where(
                        DeliveryRow.run_id == delivery.run_id,
                        DeliveryRow.target == delivery.target,
                        DeliveryRow.chunk == delivery.chunk,
                    )
                )
            ).one()
        return Stored(delivery_from_row(row), created=False)

    async def store_chunks(self, run_id: int, deliveries: Sequence[Delivery]) -> Stored[list[Delivery]]:
        async with self._tx() as conn:
            created, rows = await store_chunks(conn, self._insert, run_id, deliveries)
        return Stored([delivery_from_row(row) for row in rows], created=created)

    async def transition_delivery(
        self,
        delivery_id: int,
        *,
        expected: Iterable[DeliveryState],
        new: DeliveryState,
        platform_message_id: str | None = None,
        error: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"state": new.value, "updated_at": utcnow(), "last_error": error}
        if platform_message_id is not None:
            values["platform_message_id"] = platform_message_id
        if new is DeliveryState.SENDING:
            values["attempts"] = DeliveryRow.attempts + 1
        stmt = (
            update(DeliveryRow)
            .where(DeliveryRow.id == delivery_id, DeliveryRow.state.in_([s.value for s in expected]))
            .values(**values)
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def list_deliveries(self, run_id: int) -> list[Delivery]:
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(DeliveryRow.__table__)
                    .where(DeliveryRow.run_id == run_id)
                    .order_by(DeliveryRow.target, DeliveryRow.chunk)
                )
            ).all()
        return [delivery_from_row(row) for row in rows]

    async def find_delivery_by_message(self, target: str, platform_message_id: str) -> Delivery | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(DeliveryRow.__table__).where(
                        DeliveryRow.target == target, DeliveryRow.platform_message_id == platform_message_id
                    )
                )
            ).first()
        return delivery_from_row(row) if row is not None else None

    async def last_run(self, target: str, kind: DigestKind, *, before: date | None = None) -> DigestRun | None:
        stmt = select(DigestRunRow.__table__).where(DigestRunRow.target == target, DigestRunRow.kind == kind.value)
        if before is not None:
            stmt = stmt.where(DigestRunRow.day < before)
        stmt = stmt.order_by(DigestRunRow.day.desc(), DigestRunRow.id.desc()).limit(1)
        async with self._read() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        return run_from_row(row) if row is not None else None
