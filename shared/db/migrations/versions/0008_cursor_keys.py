"""The bridge's cursors are keyed by the target's id *and* creation time (`webhook:3@1790000000123456`),
so a target that reuses a deleted one's id (SQLite reuses the highest) never starts from its place.
Cursors of targets that still exist are renamed; those of deleted targets are dropped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RENAME = "UPDATE bridge_cursors SET target = :new WHERE target = :old"
DROP_STALE = (
    "DELETE FROM bridge_cursors"
    " WHERE (target LIKE 'webhook:%' OR target LIKE 'notification:%') AND target NOT LIKE '%@%'"
)


def upgrade() -> None:
    connection = op.get_bind()
    for row in connection.execute(sa.text("SELECT id, kind, created_at FROM integrations")).all():
        old, new = f"{row.kind}:{row.id}", f"{row.kind}:{row.id}@{round(row.created_at * 1e6)}"
        connection.execute(sa.text(RENAME), {"new": new, "old": old})
    connection.execute(sa.text(DROP_STALE))


def downgrade() -> None:
    connection = op.get_bind()
    for row in connection.execute(sa.text("SELECT target FROM bridge_cursors WHERE target LIKE '%@%'")).all():
        connection.execute(sa.text(RENAME), {"new": row.target.partition("@")[0], "old": row.target})
