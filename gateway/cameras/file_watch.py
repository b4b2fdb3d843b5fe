"""The camera file, watched while the system runs: an edit that loads is applied within about a
second (every process follows the cameras' revision), one that does not is refused at once, loudly,
and the cameras in force stay as they are (shared.db.camera_file keeps the problem for
`/api/system` and the dashboard). Without it, a bad edit lay unnoticed until the next restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import migrate
from shared.db.engine import DatabaseUnavailable, reason
from shared.db.startup import CameraSource, apply_or_refuse

log = logging.getLogger(__name__)

POLL_S = 1.0


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


async def watch_camera_file(path: Path, engine: AsyncEngine, changed: Callable[[], None]) -> None:
    """Until cancelled: apply or refuse the file each time it changes on disk (and once at start,
    should it have changed between this process's start and now)."""
    seen = _stamp(path)
    while True:
        await asyncio.sleep(POLL_S)
        stamp = _stamp(path)
        if stamp == seen:
            continue
        await asyncio.sleep(0.2)  # an editor's save may come as several writes: read the file once it settled
        if _stamp(path) != stamp:
            continue
        try:
            if await _apply(path, engine):
                changed()
            seen = stamp
        except (SQLAlchemyError, DatabaseUnavailable, OSError) as e:
            log.warning("cameras: the camera file changed but the database cannot take it yet (retrying): %s",
                        reason(e) if isinstance(e, SQLAlchemyError) else e)  # fmt: skip


async def _apply(path: Path, engine: AsyncEngine) -> bool:
    """Whether cameras changed."""
    source = await asyncio.to_thread(CameraSource.read_or_refused, path, os.environ)
    async with migrate.exclusive(engine) as connection:
        return await apply_or_refuse(connection, source, at_start=False)
