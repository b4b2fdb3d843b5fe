"""Events say what was seen (`label`: person, face, car, dog, ...) and whether an object's event
ended because it stood still (`stationary`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("label", sa.String(32), nullable=True))
        batch.add_column(sa.Column("stationary", sa.Boolean, nullable=False, server_default=sa.false()))
    # Person and face events stored before labels were theirs already.
    op.execute("UPDATE events SET label = type WHERE type IN ('person', 'face')")
    op.create_index("ix_events_label_started", "events", ["label", "started_us", "seq"])


def downgrade() -> None:
    op.drop_index("ix_events_label_started", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("stationary")
        batch.drop_column("label")
