"""Cameras say when they were added (`created_at`), so that recording coverage never counts the time
before a camera existed as footage its mode asked for. Cameras stored before get their last change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("created_at", sa.Float, nullable=True))
    op.execute("UPDATE cameras SET created_at = updated_at")


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("created_at")
