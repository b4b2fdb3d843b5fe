"""Alembic's environment: always handed an open connection by shared.db.migrate (never a URL),
so migrations run inside the caller's transaction and under its lock."""

from __future__ import annotations

from alembic import context

from shared.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite changes columns by copying the table; batch mode writes that for us
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
