"""Events with snapshots, cameras, and meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("camera_id", sa.Integer, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("box", sa.JSON, nullable=True),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("has_snapshot", sa.Boolean, nullable=False),
        sa.Column("published_at", sa.Float, nullable=False),
        sa.Column("stored_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("id", name="uq_events_id"),
    )
    op.create_index("ix_events_started", "events", ["started_us", "seq"])
    op.create_index("ix_events_camera_started", "events", ["camera_id", "started_us", "seq"])
    op.create_index("ix_events_type_started", "events", ["type", "started_us", "seq"])
    op.create_table(
        "event_snapshots",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("jpeg", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_event_snapshots"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_event_snapshots_event_id_events", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("cameras")
    op.drop_table("event_snapshots")
    op.drop_index("ix_events_type_started", table_name="events")
    op.drop_index("ix_events_camera_started", table_name="events")
    op.drop_index("ix_events_started", table_name="events")
    op.drop_table("events")
