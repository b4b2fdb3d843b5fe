"""Footage on several hosts' own disks: each segment says whose disk holds it (`host`, "" for the
folder every host shares), paths are unique per host, and `recording_hosts` says where each such
host's recorder serves its footage.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("host", sa.String(63), nullable=False, server_default=""))
        batch.drop_constraint("uq_recordings_path", type_="unique")
        batch.create_unique_constraint("uq_recordings_host_path", ["host", "path"])
    op.create_table(
        "recording_hosts",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("url", sa.String(255), nullable=False),
        sa.Column("free_bytes", sa.BigInteger, nullable=False),
        sa.Column("total_bytes", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_recording_hosts"),
    )


def downgrade() -> None:
    op.drop_table("recording_hosts")
    with op.batch_alter_table("recordings") as batch:
        batch.drop_constraint("uq_recordings_host_path", type_="unique")
        batch.create_unique_constraint("uq_recordings_path", ["path"])
        batch.drop_column("host")
