"""Indexes for picking a digest's blog posts by first-seen time and by "not yet in a digest of this target".

Daily digests used to pick posts by their published day, so a post dated 23:30 that a feed showed at 01:00
missed every window. Posts are now picked by when paperbot first saw them and whether a digest run of the target
already delivered them (``SqlRepository.list_post_candidates``); these indexes serve those two conditions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_items_kind_first_seen_at", "items", ["kind", "first_seen_at"])
    op.create_index("ix_deliveries_item_id", "deliveries", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_item_id", table_name="deliveries")
    op.drop_index("ix_items_kind_first_seen_at", table_name="items")
