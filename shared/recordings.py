"""Where recordings live on disk, and what a segment's file name says.

    <CAMSTREAM_RECORDINGS_DIR>/<camera id>/<UTC date>/<start ms>-<end ms>.mp4   a finished segment
    <CAMSTREAM_RECORDINGS_DIR>/<camera id>/<UTC date>/<start ms>.part.mp4       one being written

A finished segment's name holds its wall-clock start and end (Unix milliseconds), so the
index in the database can always be rebuilt from the files alone. A part file is locked
(flock) by the process writing it: a part nobody holds was cut short (its writer was
killed) and is repaired by the recorder.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".mp4"
PART_SUFFIX = ".part.mp4"
_FINISHED = re.compile(r"^(\d{10,16})-(\d{10,16})\.mp4$")
_PART = re.compile(r"^(\d{10,16})\.part\.mp4$")


@dataclass(frozen=True, slots=True)
class SegmentFile:
    camera_id: int
    start_ms: int
    end_ms: int | None  # None: a part file, still being written (or cut short)
    path: Path

    @property
    def is_part(self) -> bool:
        return self.end_ms is None


def camera_dir(root: Path, camera_id: int) -> Path:
    return root / str(camera_id)


def day_dir(root: Path, camera_id: int, start_ms: int) -> Path:
    return camera_dir(root, camera_id) / time.strftime("%Y-%m-%d", time.gmtime(start_ms / 1000))


def part_path(root: Path, camera_id: int, start_ms: int) -> Path:
    return day_dir(root, camera_id, start_ms) / f"{start_ms}{PART_SUFFIX}"


def finished_path(root: Path, camera_id: int, start_ms: int, end_ms: int) -> Path:
    return day_dir(root, camera_id, start_ms) / f"{start_ms}-{end_ms}{SUFFIX}"


def parse(path: Path, camera_id: int) -> SegmentFile | None:
    """The segment a file name describes; None for anything else (left alone)."""
    finished = _FINISHED.match(path.name)
    if finished:
        start, end = int(finished[1]), int(finished[2])
        return SegmentFile(camera_id, start, end, path) if end > start else None
    part = _PART.match(path.name)
    if part:
        return SegmentFile(camera_id, int(part[1]), None, path)
    return None


def camera_segments(root: Path, camera_id: int, days: list[str] | None = None) -> list[SegmentFile]:
    """A camera's segment files (every day's, or those of `days`), oldest first."""
    base = camera_dir(root, camera_id)
    if not base.is_dir():
        return []
    folders = [base / d for d in days] if days is not None else sorted(p for p in base.iterdir() if p.is_dir())
    found: list[SegmentFile] = []
    for folder in folders:
        if folder.is_dir():
            found.extend(s for p in folder.iterdir() if (s := parse(p, camera_id)) is not None)
    return sorted(found, key=lambda s: s.start_ms)


def recorded_cameras(root: Path) -> list[int]:
    """Camera ids that have a folder under the recordings root."""
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())
