"""What every process does with the database at start: reach it, migrate it, apply the camera
file, and read the cameras. One process at a time (shared.db.migrate.exclusive)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.cameras import CameraFile, load_camera_definitions
from shared.db import migrate
from shared.db.camera_file import clear_problem, has_cameras, refuse
from shared.db.cameras import apply_camera_file, read_cameras
from shared.db.engine import DatabaseUnavailable, check_connection, create_engine, reason
from shared.db.url import masked
from shared.secret_box import SecretBox
from shared.settings import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraSource:
    """The camera file as read at start (or the demo set), to apply to the database."""

    definitions: list[dict[str, Any]]
    sha256: str | None  # of the file's bytes; None for the demo set
    label: str
    problem: str | None = None  # the file does not load: why (definitions empty)

    @classmethod
    def read(cls, cameras_file: Path | None, environ: Mapping[str, str]) -> CameraSource:
        """Raises ConfigError."""
        _, definitions = load_camera_definitions(cameras_file, environ)
        if cameras_file is None:
            return cls(definitions, None, "the built-in demo set")
        return cls(definitions, _sha256(cameras_file), f"camera file {cameras_file}")

    @classmethod
    def read_or_refused(cls, cameras_file: Path | None, environ: Mapping[str, str]) -> CameraSource:
        """The file, or (when it does not load) its problem, for prepare() to decide on."""
        try:
            return cls.read(cameras_file, environ)
        except ConfigError as e:
            return cls([], _sha256(cameras_file) if cameras_file else None, f"camera file {cameras_file}", str(e))


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


async def prepare(
    engine: AsyncEngine, source: CameraSource, environ: Mapping[str, str], box: SecretBox | None = None
) -> CameraFile:
    """Migrate, apply the camera file, and return the cameras. Raises DatabaseUnavailable (with
    the masked URL)."""
    await check_connection(engine)
    async with migrate.exclusive(engine) as connection:
        try:
            before, after = await migrate.upgrade(connection)
            if before != after:
                log.info("database %s: schema %s -> %s", masked(engine.url), before or "empty", after)
            await apply_or_refuse(connection, source, at_start=True)
            cameras = await read_cameras(connection, environ, box)
            await connection.commit()
        except SQLAlchemyError as e:
            raise DatabaseUnavailable(f"database {masked(engine.url)}: {reason(e)}") from None
    return cameras


async def apply_or_refuse(connection: AsyncConnection, source: CameraSource, at_start: bool) -> bool:
    """Apply the camera file (clearing any problem kept), or, when it does not load, keep the cameras
    in force and the problem for everyone to see (the log once, /api/system). At start with no camera
    stored there is nothing to run on: the error is raised (ConfigError). Whether cameras changed.
    Call it inside shared.db.migrate.exclusive()."""
    if source.problem is None:
        changes = await apply_camera_file(connection, source.definitions, source.sha256, source.label)
        await clear_problem(connection)
        return bool(changes)
    if at_start and not await has_cameras(connection):
        raise ConfigError(source.problem)
    if await refuse(connection, source.problem, source.sha256):
        log.error("cameras: the camera file is refused, running on the last good cameras until it is fixed: %s",
                  source.problem)  # fmt: skip
    elif at_start:
        log.warning("cameras: still refused, running on the last good cameras: %s", source.problem)
    return False


async def open_database(url: URL, timeout_s: float) -> AsyncEngine:
    """An engine on a reachable database at the current schema (migrated here if need be).
    Raises DatabaseUnavailable."""
    engine = create_engine(url, timeout_s)
    try:
        await check_connection(engine)
        async with migrate.exclusive(engine) as connection:
            await migrate.upgrade(connection)
    except BaseException:
        await engine.dispose()
        raise
    return engine
