"""Loading a process's whole configuration at start: settings, the database, the cameras."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING

from shared.cameras import CameraFile, load_cameras
from shared.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from shared.db.startup import CameraSource

# The database's modules (SQLAlchemy, Alembic: a second of imports on a small machine) are
# imported by cameras_or_exit, not here: a camera's own process, given its camera by the ingest
# manager, never loads them.

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 69  # sysexits' EX_UNAVAILABLE: a service it needs cannot be reached; try again later


def cameras_or_exit(process: str, settings: Settings) -> CameraFile:
    """The cameras from the database (migrated, the camera file applied). On an error, print
    where and why (the database URL masked) and exit: 2 for configuration, 69 for a database
    that cannot be reached."""
    from shared.db.engine import DatabaseUnavailable  # noqa: PLC0415 - see above
    from shared.db.startup import CameraSource  # noqa: PLC0415

    try:
        return asyncio.run(_prepare(settings, CameraSource.read_or_refused(settings.cameras_file, os.environ)))
    except ConfigError as e:
        print(f"camstream {process}: configuration error in {e}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    except DatabaseUnavailable as e:
        print(f"camstream {process}: {e}", file=sys.stderr)
        raise SystemExit(EXIT_UNAVAILABLE) from None


async def _prepare(settings: Settings, source: CameraSource) -> CameraFile:
    from shared.db.engine import create_engine  # noqa: PLC0415 - see above
    from shared.db.startup import prepare  # noqa: PLC0415
    from shared.db.url import database_url  # noqa: PLC0415
    from shared.secret_box import load_box  # noqa: PLC0415

    engine = create_engine(database_url(settings), settings.database_timeout_s)
    try:
        return await prepare(engine, source, os.environ, load_box(settings))
    finally:
        await engine.dispose()


def load_settings_or_exit(process: str) -> Settings:
    """The settings, or exit with the problem said. Sets the process's umask (CAMSTREAM_UMASK): what
    camstream writes (the database, recordings, keys, clips) is its own user's alone by default."""
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"camstream {process}: configuration error in {e}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    os.umask(int(settings.umask, 8))
    return settings


def load_file_config_or_exit(process: str) -> tuple[Settings, CameraFile]:
    """Settings and the camera file alone, database untouched: for --validate-config."""
    settings = load_settings_or_exit(process)
    try:
        return settings, load_cameras(settings.cameras_file, os.environ)
    except ConfigError as e:
        print(f"camstream {process}: configuration error in {e}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
