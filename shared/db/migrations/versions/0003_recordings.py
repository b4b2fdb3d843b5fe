"""The index of recording segments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.Integer, nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("end_ms", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("events", sa.Boolean, nullable=False),
        sa.Column("motion", sa.Boolean, nullable=False),
        sa.Column("decided", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recordings"),
        sa.UniqueConstraint("path", name="uq_recordings_path"),
    )
    op.create_index("ix_recordings_camera_start", "recordings", ["camera_id", "start_ms"])
    op.create_index("ix_recordings_start", "recordings", ["start_ms"])


def downgrade() -> None:
    op.drop_index("ix_recordings_start", table_name="recordings")
    op.drop_index("ix_recordings_camera_start", table_name="recordings")
    op.drop_table("recordings")
