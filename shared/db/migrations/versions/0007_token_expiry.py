"""API tokens expire (`expires_at`); those made before get a year from this migration.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

YEAR_S = 365 * 86400


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.Float, nullable=True))
    op.execute(sa.text("UPDATE api_tokens SET expires_at = :at").bindparams(at=time.time() + YEAR_S))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
