"""Opening the database: one async engine per process, with the SQLite settings that make a
file safe for several processes at once (WAL, a busy timeout, real transactions)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared.db.url import masked, sqlite_path
from shared.redact import mask_credentials

# Execution option of a connection whose transactions write (see `connect`).
WRITES = "camstream_writes"


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message names it (masked) and says why."""


def create_engine(url: URL, timeout_s: float = 5.0) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, timeout_s)
    connect_args: dict[str, Any] = {"timeout": timeout_s} if url.drivername.endswith("asyncpg") else {}
    if url.drivername.endswith("psycopg"):
        connect_args = {"connect_timeout": max(1, round(timeout_s))}
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args)


def _sqlite_engine(url: URL, timeout_s: float) -> AsyncEngine:
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a read-only disk, a folder of another user's: say so, no traceback
            raise DatabaseUnavailable(f"cannot create the database's folder {path.parent}: {e.strerror}") from None
    engine = create_async_engine(url, connect_args={"timeout": timeout_s})
    busy_ms = int(timeout_s * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling skips BEGIN before DDL and cannot wait on a lock;
        # we turn it off and begin each transaction ourselves (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer, nor it them. NORMAL: a commit survives the
        # process being killed (only a power cut can cost the last commits).
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={busy_ms}", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A transaction that will write takes the write lock at its start, waiting the busy timeout
        # for it. Begun deferred, one that reads first gets "database is locked" at once, with no
        # wait, whenever another process commits between its read and its write.
        writes = connection.get_execution_options().get(WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


async def check_connection(engine: AsyncEngine) -> None:
    """Raises DatabaseUnavailable with the (masked) URL and the reason."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as e:
        raise DatabaseUnavailable(f"database {masked(engine.url)}: cannot connect ({reason(e)})") from None


def reason(error: BaseException) -> str:
    """The driver's own words for an error, without SQL, parameters or credentials."""
    cause = getattr(error, "orig", None) or error.__cause__ or error
    words = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return mask_credentials(words)[:300]


@contextlib.asynccontextmanager
async def connect(engine: AsyncEngine, write: bool = False) -> AsyncIterator[AsyncConnection]:
    """A connection. With `write`, it is one that writes: on SQLite its transactions take the
    write lock when they begin (so one that reads, then writes, waits its turn instead of failing),
    and what is left uncommitted when the block ends without an error is committed (the block may
    commit as it goes). Raises SQLAlchemyError, or DatabaseUnavailable where the driver raises a
    plain OSError (asyncpg does when refused)."""
    try:
        async with engine.connect() as connection:
            if write:
                await connection.execution_options(**{WRITES: True})
            yield connection
            if write and connection.in_transaction():
                await connection.commit()
    except (OSError, TimeoutError) as e:
        raise DatabaseUnavailable(f"database {masked(engine.url)}: {reason(e)}") from None


T = TypeVar("T")
RETRY_ATTEMPTS = 2  # each waits the busy timeout first: a request gives up after about twice that


async def retrying(engine: AsyncEngine, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`work` in a writing connection of its own, again (up to RETRY_ATTEMPTS times in all, 0.1 s
    apart, doubling) when SQLite answers "database is locked" (its busy timeout passed while
    another process held the write lock). Anything else is raised."""
    delay_s = 0.1
    for attempt in range(RETRY_ATTEMPTS):
        try:
            async with connect(engine, write=True) as connection:
                return await work(connection)
        except OperationalError as e:
            if "locked" not in str(e) or attempt + 1 == RETRY_ATTEMPTS:
                raise
        await asyncio.sleep(delay_s)
        delay_s *= 2
    raise AssertionError("unreachable")
