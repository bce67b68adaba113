"""A digest run's rendered chunks in its delivery rows (revision 0007): stored once, read by every later pass.

The SQL half of ``DeliveryRepository.store_chunks``; ``SqlRepository`` calls it inside its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from paperbot.domain import Delivery, DeliveryState, utcnow
from paperbot.store.models import DeliveryRow
from paperbot.store.rows import chunk_columns


async def store_chunks(
    conn: AsyncConnection, insert: Any, run_id: int, deliveries: Sequence[Delivery]
) -> tuple[bool, list[Any]]:
    """Insert the run's rows if chunk 0 is not stored yet; (created, the run's rows in chunk order).

    Chunk 0 goes first with ON CONFLICT DO NOTHING: a concurrent writer's transaction holding it makes this one
    wait (PostgreSQL) or is serialised before it (SQLite), and then it inserts nothing. So a run's rows come from
    one rendering, never a mix of two.
    """
    created = False
    if deliveries:
        now = utcnow()
        rows = [
            {
                "run_id": run_id,
                "target": delivery.target,
                "chunk": delivery.chunk,
                "state": DeliveryState.PENDING.value,
                "item_id": delivery.item_id,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
                **chunk_columns(delivery.content),
            }
            for delivery in sorted(deliveries, key=lambda d: d.chunk)
        ]
        first = (
            insert(DeliveryRow)
            .values(**rows[0])
            .on_conflict_do_nothing(index_elements=["run_id", "target", "chunk"])
            .returning(DeliveryRow.id)
        )
        created = (await conn.execute(first)).one_or_none() is not None
        if created and len(rows) > 1:
            await conn.execute(insert(DeliveryRow), rows[1:])
    found = (
        await conn.execute(
            select(DeliveryRow.__table__).where(DeliveryRow.run_id == run_id).order_by(DeliveryRow.chunk)
        )
    ).all()
    return created, list(found)
