"""Webhooks and notification targets, and the bridge's place in the events stream per target.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_integrations"),
    )
    op.create_table(
        "bridge_cursors",
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("last_id", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("target", name="pk_bridge_cursors"),
    )


def downgrade() -> None:
    op.drop_table("bridge_cursors")
    op.drop_table("integrations")
