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
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.cameras import CameraFile, load_camera_definitions
from shared.db import migrate
from shared.db.cameras import apply_camera_file, read_cameras
from shared.db.engine import DatabaseUnavailable, check_connection, create_engine, reason
from shared.db.url import masked
from shared.secret_box import SecretBox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraSource:
    """The camera file as read at start (or the demo set), to apply to the database."""

    definitions: list[dict[str, Any]]
    sha256: str | None  # of the file's bytes; None for the demo set
    label: str

    @classmethod
    def read(cls, cameras_file: Path | None, environ: Mapping[str, str]) -> CameraSource:
        """Raises ConfigError."""
        _, definitions = load_camera_definitions(cameras_file, environ)
        if cameras_file is None:
            return cls(definitions, None, "the built-in demo set")
        return cls(definitions, hashlib.sha256(cameras_file.read_bytes()).hexdigest(), f"camera file {cameras_file}")


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
            await apply_camera_file(connection, source.definitions, source.sha256, source.label)
            cameras = await read_cameras(connection, environ, box)
            await connection.commit()
        except SQLAlchemyError as e:
            raise DatabaseUnavailable(f"database {masked(engine.url)}: {reason(e)}") from None
    return cameras


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
