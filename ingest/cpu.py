"""What the ingest host's processes cost: CPU time from /proc, as per cent of a core (its host record)."""

from __future__ import annotations

import os
import time


def cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used (user + system), from /proc; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Per cent of a core the manager and its camera processes used since the last reading."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[int, float]] | None = None

    def read(self, pids: list[int]) -> float | None:
        now = time.monotonic()
        used = {pid: s for pid in pids if (s := cpu_seconds(pid)) is not None}
        last, self._last = self._last, (now, used)
        if last is None or now <= last[0]:
            return None
        spent = sum(s - last[1].get(pid, s) for pid, s in used.items())  # a new process counts from its next reading
        return round(100.0 * max(0.0, spent) / (now - last[0]), 1)
