"""The camera file's standing in the database: applied, or refused with the reason.

A camera file that does not load (a typo, a missing variable, an id out of range) never stops the
system once it has cameras: every process starts on the database's last good cameras, and the
problem is kept in `meta` (CAMERAS_FILE_PROBLEM) until a good file is applied, so that the log,
`/api/system` and the dashboard all say what is wrong and since when. The gateway also applies
the file when it changes while running (gateway/cameras/file_watch.py), or refuses it the same way.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.cameras import get_meta, set_meta
from shared.db.schema import CAMERAS_FILE_PROBLEM, cameras, meta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileProblem:
    problem: str  # what the loader said: where and why, never a value
    sha256: str | None  # of the refused file's bytes (None: unreadable)
    since: float  # when it was first refused


async def has_cameras(connection: AsyncConnection) -> bool:
    return bool(await connection.scalar(select(exists().where(cameras.c.id.is_not(None)))))


async def read_problem(connection: AsyncConnection) -> FileProblem | None:
    raw = await get_meta(connection, CAMERAS_FILE_PROBLEM)
    if raw is None:
        return None
    try:
        found = json.loads(raw)
        return FileProblem(str(found["problem"]), found.get("sha256"), float(found["since"]))
    except (ValueError, KeyError, TypeError):
        return FileProblem("the camera file was refused (the reason could not be read)", None, 0.0)


async def refuse(connection: AsyncConnection, problem: str, sha256: str | None) -> bool:
    """Keep the problem (commits); True if it is new (said loudly by the caller, once)."""
    known = await read_problem(connection)
    if known is not None and (known.problem, known.sha256) == (problem, sha256):
        return False
    since = known.since if known is not None else time.time()
    await set_meta(connection, CAMERAS_FILE_PROBLEM, json.dumps({"problem": problem, "sha256": sha256, "since": since}))
    await connection.commit()
    return True


async def clear_problem(connection: AsyncConnection) -> None:
    """The file applied (or unchanged and good): no problem to show. Commits if there was one."""
    result = await connection.execute(delete(meta).where(meta.c.key == CAMERAS_FILE_PROBLEM))
    if result.rowcount:
        await connection.commit()
        log.info("cameras: the camera file loads again; its problem is cleared")
