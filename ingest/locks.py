"""Who runs which camera on this host: lock files under `<data dir>/ingest/<host>/`, so that camera
processes outlive a manager that crashed and the next manager adopts them (no frame lost), and
no camera ever runs twice.

- `manager.lock`: held (a shared flock) by every ingest manager on this data folder for its life.
- `camera-<id>.lock`: held by each camera's process for its life; it holds the process's pid and
  its camera's fingerprint, so that a new manager knows whether the running process still runs the
  camera as the database has it (adopt it) or an older definition (restart it).

flock is released by the kernel when its holder dies, however it dies: a lock held is a process
alive. A camera process started by a manager ends by itself when no manager has held the manager
lock for ORPHAN_S (the manager was killed and none came back: the system is being taken down).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import IO

from shared.cameras import Camera, definition_of

log = logging.getLogger(__name__)

ORPHAN_S = 30.0  # a camera process without a manager this long stops
EXIT_ALREADY_RUNNING = 75  # a camera's process found its camera running already (EX_TEMPFAIL)


def lock_folder(data_dir: Path, host: str) -> Path:
    """This host's lock folder: per host, so that hosts sharing one data folder (a NAS) never see each
    other's processes as their own."""
    folder = data_dir / "ingest" / host
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def camera_lock_path(folder: Path, camera_id: int) -> Path:
    return folder / f"camera-{camera_id}.lock"


def fingerprint(camera: Camera) -> str:
    """The camera's definition, hashed: equal while the camera is unchanged. (The lock file is the
    service user's alone, beside the key that opens every stored password.)"""
    return hashlib.sha256(json.dumps(definition_of(camera), sort_keys=True).encode()).hexdigest()


def _try_lock(file: IO[str], kind: int) -> bool:
    try:
        fcntl.flock(file.fileno(), kind | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def held(path: Path, kind: int = fcntl.LOCK_SH) -> bool:
    """Whether a live process holds the lock at `path` (tried, and let go at once if free)."""
    try:
        with open(path) as file:
            if _try_lock(file, kind):
                fcntl.flock(file.fileno(), fcntl.LOCK_UN)
                return False
            return True
    except FileNotFoundError:
        return False


def manager_alive(folder: Path) -> bool:
    return held(folder / "manager.lock", fcntl.LOCK_EX)


class Held:
    """A lock file held for the life of this process (never closed: the kernel lets go at exit)."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    @classmethod
    def take(cls, path: Path, content: str | None = None) -> Held | None:
        """The lock, exclusive with `content` written into it (shared with None); None if it is not to be had."""
        file = open(path, "a+")  # noqa: SIM115 - held until the process exits
        if not _try_lock(file, fcntl.LOCK_SH if content is None else fcntl.LOCK_EX):
            file.close()
            return None
        if content is not None:
            file.seek(0)
            file.truncate()
            file.write(content)
            file.flush()
        return cls(file)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


def take(path: Path, content: str | None = None, wait_s: float = 1.0) -> Held | None:
    """Held.take, trying again for wait_s: a process testing the lock holds it for microseconds
    (a manager testing a camera's lock, a camera testing the manager's), which patience rides over."""
    deadline = time.monotonic() + wait_s
    while True:
        found = Held.take(path, content)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def running(folder: Path, camera_id: int) -> tuple[int, str] | None:
    """(pid, fingerprint) of the live process that runs the camera, or None."""
    path = camera_lock_path(folder, camera_id)
    if not held(path):
        return None
    try:
        pid, _, mark = path.read_text().strip().partition(" ")
        return int(pid), mark
    except (OSError, ValueError):
        return None


def running_cameras(folder: Path) -> list[int]:
    """Ids of every camera with a live process on this host."""
    ids = []
    for path in folder.glob("camera-*.lock"):
        with contextlib.suppress(ValueError):
            camera_id = int(path.stem.removeprefix("camera-"))
            if held(path):
                ids.append(camera_id)
    return sorted(ids)


class OrphanWatch(threading.Thread):
    """In a camera's process started by a manager: sets `stop` once no manager has held the
    manager lock for ORPHAN_S."""

    def __init__(self, folder: Path, camera_id: int, stop: threading.Event, orphan_s: float = ORPHAN_S) -> None:
        super().__init__(name="orphan-watch", daemon=True)
        self._path, self._camera_id, self._stop, self._orphan_s = folder / "manager.lock", camera_id, stop, orphan_s

    def run(self) -> None:
        alone_since: float | None = None
        while not self._stop.wait(1.0):
            if manager_alive(self._path.parent):
                if alone_since is not None:
                    log.info("camera=%d adopted by a new ingest manager", self._camera_id)
                alone_since = None
                continue
            now = time.monotonic()
            if alone_since is None:
                log.warning("camera=%d its ingest manager is gone: running on for %.0f s for a new one to adopt it",
                            self._camera_id, self._orphan_s)  # fmt: skip
                alone_since = now
            elif now - alone_since >= self._orphan_s:
                log.warning("camera=%d no ingest manager came back in %.0f s: stopping", self._camera_id,
                            self._orphan_s)  # fmt: skip
                self._stop.set()
                return
