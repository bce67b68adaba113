"""Articles and nested highlights (issue 17): ``item_articles`` holds a blog post's page as fetched once (its main
text as blocks, or why the excerpt stands in, and the page's validators), and ``summaries.levels`` the depth of each
bullet of a nested highlight (NULL: every bullet is top level, as every summary stored before).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_articles",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("extractor", sa.String(length=50), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_articles_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_articles")),
    )
    # A plain ADD COLUMN (SQLite has it natively): a batch copy of ``summaries`` would gain nothing.
    op.add_column("summaries", sa.Column("levels", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("summaries", "levels")  # SQLite >= 3.35 drops a column natively
    op.drop_table("item_articles")
