"""Upvote history for the web archive (HF upvotes over time), indexes for per-source activity and for the listing a
week's page ranks (everything it reads but the text, so the items' rows stay unread), and the topics stored with
each item (``item_topics``, with the taxonomy version that assigned them).

Existing papers get their current count as the first point, so every page has at least one. ``item_topics`` starts
empty: topics come from the application's taxonomy (a migration must not import it), and the archive stores the
missing ones when it starts.

The revision ids are the two module-level strings below: this revision was written beside another "0004" and is
re-chained onto it by changing ``down_revision`` only.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upvote_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("upvotes", sa.Integer(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_upvote_history_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upvote_history")),
        sa.UniqueConstraint("item_id", "captured_at", name=op.f("uq_upvote_history_item_id_captured_at")),
    )
    op.create_index(op.f("ix_items_source_day"), "items", ["source", "day"], unique=False)
    op.create_index(
        op.f("ix_items_listing"),
        "items",
        ["day", "upvotes", "id", "kind", "source", "external_id", "published_at"],
        unique=False,
    )
    op.create_table(
        "item_topics",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_topics_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_topics")),
    )
    op.execute(
        "INSERT INTO upvote_history (item_id, upvotes, captured_at)"
        " SELECT id, upvotes, upvotes_captured_at FROM items"
        " WHERE kind = 'paper' AND upvotes_captured_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("item_topics")
    op.drop_index(op.f("ix_items_listing"), table_name="items")
    op.drop_index(op.f("ix_items_source_day"), table_name="items")
    op.drop_table("upvote_history")
