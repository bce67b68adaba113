"""A digest run's rendered chunks, stored when the run is claimed: every later pass sends from this copy.

A resumed run used to render again, and HF upvotes and new summaries reorder a rendering: positions then mapped to
other papers (pass 1 left chunk B unsent, pass 2 rendered C, A, B; the channel got A twice, and the second A was
recorded as B, so its votes counted for B). Each delivery row now holds its chunk: the JSON payload, the vote
reactions added under it and the chunk it replies to (Slack threads). Rows written before this revision have no
payload; a pass renders those few as before.

The revision ids are the two module-level strings below: written beside another revision, it is re-chained by
changing ``down_revision`` only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("reactions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("thread_of", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("thread_of")
        batch.drop_column("reactions")
        batch.drop_column("payload")
