"""Channel subscriptions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, delete, or_, select

from paperbot.domain import DigestKind, Subscription, utcnow
from paperbot.store.models import SubscriptionRow
from paperbot.store.rows import filters_json, subscription_from_row
from paperbot.store.sqlbase import SqlBase


class SubscriptionStore(SqlBase):
    """``SubscriptionRepository`` on SQL."""

    async def save_subscription(self, subscription: Subscription) -> Subscription:
        now = utcnow()
        values = {
            "platform": subscription.platform,
            "workspace_id": subscription.workspace_id,
            "channel_id": subscription.channel_id,
            "kind": subscription.kind.value,
            "time": subscription.time,
            "timezone": subscription.timezone,
            "weekday": subscription.weekday,
            "filters": filters_json(subscription.filters),
            "enabled": subscription.enabled,
            "broken_reason": subscription.broken_reason,
            "updated_at": now,
        }
        stmt = (
            self._insert(SubscriptionRow)
            .values(**values, created_at=now)
            .on_conflict_do_update(
                index_elements=["platform", "channel_id", "kind"],
                set_={k: v for k, v in values.items() if k not in ("platform", "channel_id", "kind")},
            )
            .returning(*SubscriptionRow.__table__.c)
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).one()
        return subscription_from_row(row)

    async def remove_subscription(self, platform: str, channel_id: str, kind: DigestKind | None = None) -> int:
        stmt = delete(SubscriptionRow).where(
            SubscriptionRow.platform == platform, SubscriptionRow.channel_id == channel_id
        )
        if kind is not None:
            stmt = stmt.where(SubscriptionRow.kind == kind.value)
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount)

    async def list_subscriptions(
        self, *, platform: str | None = None, channel_id: str | None = None, active: bool | None = None
    ) -> list[Subscription]:
        stmt: Select[Any] = select(SubscriptionRow.__table__)
        if platform is not None:
            stmt = stmt.where(SubscriptionRow.platform == platform)
        if channel_id is not None:
            stmt = stmt.where(SubscriptionRow.channel_id == channel_id)
        if active is not None:
            unbroken = or_(SubscriptionRow.broken_reason.is_(None), SubscriptionRow.broken_reason == "")
            is_active = and_(SubscriptionRow.enabled.is_(True), unbroken)
            stmt = stmt.where(is_active if active else ~is_active)
        stmt = stmt.order_by(SubscriptionRow.platform, SubscriptionRow.channel_id, SubscriptionRow.kind)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [subscription_from_row(row) for row in rows]
