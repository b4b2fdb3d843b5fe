"""Loading a process's whole configuration at start: settings, then the camera file."""

from __future__ import annotations

import os
import sys

from shared.cameras import CameraFile, load_cameras
from shared.settings import ConfigError, Settings, load_settings

EXIT_CONFIG = 2


def load_config_or_exit(process: str) -> tuple[Settings, CameraFile]:
    """Settings and cameras; on an error, print where and why, and exit with code 2."""
    try:
        settings = load_settings()
        return settings, load_cameras(settings.cameras_file, os.environ)
    except ConfigError as e:
        print(f"camstream {process}: configuration error in {e}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
