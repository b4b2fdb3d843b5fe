"""Rule events say where (`zone`, `line`), which way (`direction`) and which track (`track_id`);
an index for counting them per camera and type over time (GET /api/counts).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("zone", sa.String(40), nullable=True))
        batch.add_column(sa.Column("line", sa.String(40), nullable=True))
        batch.add_column(sa.Column("direction", sa.String(8), nullable=True))
        batch.add_column(sa.Column("track_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_events_camera_type_started", "events", ["camera_id", "type", "started_us"])


def downgrade() -> None:
    op.drop_index("ix_events_camera_type_started", "events")
    with op.batch_alter_table("events") as batch:
        for name in ("track_id", "direction", "line", "zone"):
            batch.drop_column(name)
