"""Camera processes found by what they are, not by their parent: they outlive a killed ingest
manager (ingest.locks), so a test finds them, and stops those it left, by their data folder."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def command_words(pid: int) -> list[bytes]:
    """The words of a process's command line. A camera process forked by ingest's fork server has
    its title in one piece (`python -m ingest --camera 3`, set by setproctitle): split on spaces too.
    Raises OSError when the process is gone."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()


def processes(*words: str, data: Path | None = None) -> list[int]:
    """Pids of the processes whose command line holds every one of `words` (and, given `data`, whose
    CAMSTREAM_DATA_DIR is it)."""
    found = []
    wanted = [w.encode() for w in words]
    folder = f"CAMSTREAM_DATA_DIR={data}".encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = command_words(int(cmdline.parent.name))
            ours = data is None or folder in (cmdline.parent / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if ours and all(w in command for w in wanted):
            found.append(int(cmdline.parent.name))
    return found


def camera_processes(data: Path) -> list[int]:
    """Every `python -m ingest --camera` process whose data folder (CAMSTREAM_DATA_DIR) is `data`."""
    return processes("ingest", "--camera", data=data)


def stop_camera_processes(data: Path, timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL, every camera process of `data` still running."""
    left = camera_processes(data)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if Path(f"/proc/{p}").exists() and _running(p)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False
