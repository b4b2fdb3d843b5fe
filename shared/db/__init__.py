"""Durable state: SQLAlchemy (async) over SQLite or PostgreSQL, with Alembic migrations.

Redis is the live bus and may lose everything; what must survive a restart is here: event
history with snapshots, and cameras. docs/state.md says what lives where.
"""
