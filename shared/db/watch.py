"""Following camera changes at run time: the cameras' revision (shared.db.cameras) is polled every
POLL_S, and when it moves the cameras are read again and handed over. Used by the ingest manager
and analyzer workers (a thread of their own) and the gateway (a task), so that a camera added,
changed or deleted through the API takes effect within about a second, in every process.

A database that cannot be reached is retried quietly (logged once); the last cameras stay in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Awaitable, Callable

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.cameras import Camera
from shared.db.cameras import read_cameras, revision
from shared.db.engine import DatabaseUnavailable, connect, create_engine, reason
from shared.db.faces import follow_faces
from shared.db.url import database_url
from shared.secret_box import SecretBox, load_box
from shared.settings import Settings

log = logging.getLogger(__name__)

POLL_S = 1.0


async def follow_cameras(
    engine: AsyncEngine, box: SecretBox, on_change: Callable[[list[Camera]], Awaitable[None] | None],
    stop: Callable[[], bool], known_revision: int | None = None, wake: asyncio.Event | None = None,
) -> None:  # fmt: skip
    """Call on_change(cameras) whenever the revision moves (not for `known_revision`), until stop().
    Setting `wake` makes it look at once instead of at the next poll (a change made here)."""
    seen = known_revision
    healthy = True
    while not stop():
        try:
            async with connect(engine) as connection:
                now = await revision(connection)
                if now != seen:
                    cameras = (await read_cameras(connection, os.environ, box)).cameras
                    seen = now
                    outcome = on_change(cameras)
                    if outcome is not None:
                        await outcome
            if not healthy:
                log.info("cameras: database reachable again")
            healthy = True
        except (SQLAlchemyError, DatabaseUnavailable, OSError) as e:
            if healthy:
                log.warning("cameras: cannot read changes from the database (retrying): %s", reason(e))
            healthy = False
        if wake is None:
            await asyncio.sleep(POLL_S)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), POLL_S)
        wake.clear()


class CameraWatcher(threading.Thread):
    """follow_cameras in a thread of its own, for processes that are not asyncio (ingest, analyzer).
    on_change runs in this thread."""

    def __init__(
        self, settings: Settings, on_change: Callable[[list[Camera]], None], stop: threading.Event,
        on_faces: Callable[[dict[str, np.ndarray]], None] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(name="camera-watcher", daemon=True)
        self._settings = settings
        self._on_change = on_change
        self._on_faces = on_faces  # the known faces too (analyzer), at start and on every change
        self._halt = stop
        self._box = load_box(settings)

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        engine = create_engine(database_url(self._settings), self._settings.database_timeout_s)
        try:
            # The first poll hands over the cameras as they are now (a change made while this process
            # started is not missed); on_change must treat cameras it runs already as no change.
            cameras = follow_cameras(engine, self._box, self._on_change, self._halt.is_set)
            if self._on_faces is None:
                await cameras
            else:
                await asyncio.gather(cameras, follow_faces(engine, self._on_faces, self._halt.is_set))
        finally:
            await engine.dispose()
