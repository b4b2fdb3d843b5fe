"""`python -m recorder`: keeps the recordings index and the disk in order (the camera processes
write the segments). `python -m recorder reindex` rebuilds the index from the files."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from recorder.service import HEARTBEAT, Recorder
from shared.cameras import Camera
from shared.disk_floor import floor_problem
from shared.process import Action, ProcessSpec, Started, opened_database, run_async, run_process
from shared.settings import Settings

log = logging.getLogger("recorder")

CHECK_STALE_S = 60.0


def run(started: Started) -> int:
    return run_async("recorder", _run(started.settings, started.stop))


async def _run(settings: Settings, stop: threading.Event) -> int:
    async with opened_database(settings) as engine:
        await Recorder(settings, engine).run(stop)
    log.info("recorder stopped")
    return 0


def reindex(settings: Settings, _args: argparse.Namespace) -> int:
    return run_async("recorder", _reindex(settings))


async def _reindex(settings: Settings) -> int:
    async with opened_database(settings) as engine:
        count = await Recorder(settings, engine).reindex()
    print(f"recorder: the index holds {count} segments, rebuilt from {settings.recordings_root}")
    return 0


def describe(camera: Camera) -> str:
    return f"camera {camera.id} {camera.name!r}: recording {camera.record.mode}"


def check(settings: Settings, _args: argparse.Namespace) -> int:
    """Healthy while the recorder finished a pass lately (its heartbeat file's time)."""
    try:
        age_s = time.time() - (settings.recordings_root / HEARTBEAT).stat().st_mtime
    except FileNotFoundError:
        print("unhealthy: the recorder has not finished a pass")
        return 1
    if age_s > CHECK_STALE_S:
        print(f"unhealthy: the recorder's last pass was {age_s:.0f} s ago")
        return 1
    print(f"healthy: last pass {age_s:.0f} s ago")
    return 0


SPEC = ProcessSpec(
    "recorder", __doc__ or "", run, check, describe,
    actions=(Action("reindex", "rebuild the recordings index from the files on disk", reindex, full_start=True),),
    preflight=lambda settings: floor_problem(settings, settings.recordings_root),
)  # fmt: skip

if __name__ == "__main__":
    sys.exit(run_process(SPEC))
