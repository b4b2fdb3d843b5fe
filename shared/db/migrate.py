"""Schema migrations (Alembic), applied once however many processes start at the same moment.

Every process calls `exclusive()` at start: on PostgreSQL it holds an advisory lock, on SQLite a
lock on a file beside the database, so one process migrates (and imports cameras) while the
others wait, then find nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import time
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.engine import WRITES, DatabaseUnavailable, reason
from shared.db.url import masked, sqlite_path

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_WAIT_S = 120.0
# pg_advisory_lock key: any fixed 64-bit number other software is unlikely to pick ("camstrm").
_PG_LOCK_KEY = 0x63616D7374726D


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current(connection: AsyncConnection) -> str | None:
    """The schema revision the database is at (None: empty)."""
    return await connection.run_sync(_current)


async def upgrade(connection: AsyncConnection) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; (before, after). Call it inside `exclusive()`."""
    before = await current(connection)
    if before != head():
        await connection.run_sync(lambda c: command.upgrade(_config(c), "head"))
    await connection.commit()
    return before, head()


@contextlib.asynccontextmanager
async def exclusive(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection held alone: no other camstream process is inside `exclusive()` meanwhile."""
    postgres = engine.url.get_backend_name() == "postgresql"
    path = sqlite_path(engine.url)
    try:
        lock = _file_lock(path.with_name(path.name + ".lock")) if path else _no_lock()
        async with lock, engine.connect() as connection:
            await connection.execution_options(**{WRITES: True})  # migrations and the camera file write
            if postgres:
                await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
                await connection.commit()
            try:
                yield connection
            finally:
                if postgres:  # also released when the connection closes, should this fail
                    with contextlib.suppress(SQLAlchemyError):
                        await connection.rollback()
                        await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                        await connection.commit()
    except (SQLAlchemyError, OSError) as e:
        raise DatabaseUnavailable(f"database {masked(engine.url)}: {reason(e)}") from None


@contextlib.asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


@contextlib.asynccontextmanager
async def _file_lock(lock_path: Path) -> AsyncIterator[None]:
    """flock on a file beside the SQLite database; released by the kernel if the process dies."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OSError(f"another process has held {lock_path} for {LOCK_WAIT_S:g} s") from None
                await asyncio.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
