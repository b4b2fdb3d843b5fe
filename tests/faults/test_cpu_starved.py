"""A starved machine slows down; it does not fall apart. An analyzer worker and ingest's camera
processes share one CPU with eight busy loops (each gets a ninth of it): the worker keeps every
lease (it skips frames, counted), no camera changes hands, and everything stops cleanly on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support import ServiceRun, read_detections, wait_until, worker_statuses, write_camera_file
from tests.support.processes import camera_processes

Start = Callable[..., ServiceRun]
CAMERAS = 8
HOGS = 8
STARVED_S = 20.0
# A short lease makes a worker that renews between detector calls lose its cameras within seconds.
ENV = {"CAMSTREAM_ANALYZER_LEASE_TTL_S": "1.0"}


def pin(pids: list[int], cpu: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):  # a process or thread that ended meanwhile
            for task in Path(f"/proc/{pid}/task").iterdir():  # every thread: affinity is per thread
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), {cpu})


def test_a_worker_and_its_cameras_starved_of_cpu_keep_their_leases_and_stop_cleanly(
    ingest: Start, analyzer: Start, rdb: redis.Redis, tmp_path: Path
) -> None:
    cameras = write_camera_file(tmp_path, [
        {"id": n, "name": f"demo {n}", "source": f"demo:cam{n}?size=640x360", "fps": 10} for n in range(1, CAMERAS + 1)
    ])  # fmt: skip
    run = ingest(cameras)
    worker = analyzer(cameras, env=ENV)
    wait_until(lambda: sum(len(s.cameras) for s in worker_statuses(rdb).values()) == CAMERAS, 30.0, interval_s=0.2,
               what="the worker to take every camera")  # fmt: skip
    cpu = min(os.sched_getaffinity(0))
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(HOGS)]
    try:
        pin([h.pid for h in hogs] + [worker.pid, run.pid] + camera_processes(Path(os.environ["CAMSTREAM_DATA_DIR"])),
            cpu)  # fmt: skip
        started = time.time()
        time.sleep(STARVED_S)
        statuses = wait_until(lambda: worker_statuses(rdb), 5.0, what="the worker's status")
        analysed = {n: [d for d in read_detections(rdb, n) if d.analysed_at_s > started] for n in range(1, CAMERAS + 1)}
        (status,) = statuses.values()
        assert sorted(int(c) for c in status.cameras) == list(range(1, CAMERAS + 1)), status.cameras
        assert all(analysed.values()), {n: len(d) for n, d in analysed.items()}  # slower, never stopped
        assert sum(c.frames_skipped for c in status.cameras.values()) > 0  # what it could not do, counted
        stopping = time.monotonic()
        assert worker.stop(20.0) == 0 and run.stop(20.0) == 0
        stop_s = time.monotonic() - stopping
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    lines = worker.log_text().splitlines()
    given_up = [line for line in lines if "gives up camera" in line and "(stopping)" not in line]
    assert not given_up, given_up
    assert "ignored SIGTERM" not in run.log_text(), run.log_text()[-3000:]
    assert stop_s < 20.0
