"""The free space kept on the recordings' file system, and whether a floor can ever be met.

CAMSTREAM_RECORDINGS_MIN_FREE_GB (2 GB unless set) is what the recorder keeps free by deleting
the oldest footage. Left unset, it shrinks to a tenth of a small disk: 2 GB of a 2.1 GB disk would
have the recorder delete every recording it makes. Set explicitly, it is taken as given, but a
floor of half the file system or more is refused at start (recordings could never use more than
the rest, and a floor of the whole disk can never be met: everything would go, for nothing).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from shared.settings import Settings

GB = 1024**3
UNSET_SHARE = 0.10  # an unset floor is at most this share of the file system
MOST_SHARE = 0.5  # a floor set at or above this share of the file system is refused


def disk_size(root: Path) -> int:
    """The size of the file system that holds (or will hold) root, in bytes."""
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).total


def floor_bytes(settings: Settings, root: Path) -> int:
    """Bytes to keep free on root's file system."""
    configured = round(settings.recordings_min_free_gb * GB)
    if "recordings_min_free_gb" in settings.model_fields_set:
        return configured
    return min(configured, int(disk_size(root) * UNSET_SHARE))


def floor_problem(settings: Settings, root: Path) -> str | None:
    """Why the configured floor can never be met sensibly on root's file system, or None."""
    if "recordings_min_free_gb" not in settings.model_fields_set or settings.recordings_min_free_gb <= 0:
        return None
    total = disk_size(root)
    if settings.recordings_min_free_gb * GB < total * MOST_SHARE:
        return None
    return (f"CAMSTREAM_RECORDINGS_MIN_FREE_GB={settings.recordings_min_free_gb:g} is half or more of the "
            f"{total / GB:.1f} GB file system that holds {root}: recordings could never use the rest, and "
            f"the recorder would delete all of them to keep it free. Set at most "
            f"{total * MOST_SHARE / GB * 0.99:.1f}, or leave it unset (a tenth of a small disk, at most 2 GB)"
            )  # fmt: skip
