"""Analyzer workers as real processes sharing cameras over a real Redis."""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support import ServiceRun, read_detections, wait_until, worker_statuses, write_camera_file

Start = Callable[..., ServiceRun]
HISTORY = {"CAMSTREAM_DETECTIONS_STREAM_LEN": "100000"}


def demo_cameras(tmp_path: Path, count: int) -> Path:
    return write_camera_file(tmp_path, [
        {"id": i, "name": f"demo {i}", "source": f"demo:cam{i}?size=320x240", "fps": 5, "analysis": {"fps": 5}}
        for i in range(1, count + 1)
    ])  # fmt: skip


def owners(client: redis.Redis) -> dict[int, str]:
    """Camera -> worker, from the workers' own status records."""
    return {int(c): w for w, s in worker_statuses(client).items() for c in s.cameras}


def test_two_workers_share_four_cameras_and_survive_a_kill(
    ingest: Start, analyzer: Start, rdb: redis.Redis, tmp_path: Path
) -> None:
    cameras = demo_cameras(tmp_path, 4)
    ingest(cameras)
    first = analyzer(cameras, env=HISTORY)
    wait_until(lambda: len(owners(rdb)) == 4, 20.0, interval_s=0.2, what="one worker to take all four cameras")

    second = analyzer(cameras, env=HISTORY)
    wait_until(lambda: len(worker_statuses(rdb)) == 2, 20.0, what="second worker up")
    # Within 10 s of the second worker's first heartbeat, the cameras are split evenly.
    wait_until(lambda: sorted(list(owners(rdb).values()).count(w) for w in set(owners(rdb).values())) == [2, 2],
               10.0, interval_s=0.2, what="an even split within 10 s")  # fmt: skip
    split = owners(rdb)
    for camera in (1, 2, 3, 4):
        wait_until(lambda c=camera: any(d.worker == split[c] for d in read_detections(rdb, c)), 10.0)

    first_id = next(w for w, s in worker_statuses(rdb).items() if s.pid == first.pid)
    victims = [c for c, w in split.items() if w == first_id]
    os.kill(first.pid, signal.SIGKILL)
    killed_at = time.time()
    for camera in victims:
        wait_until(
            lambda c=camera: any(d.worker != first_id and d.analysed_at_s > killed_at for d in read_detections(rdb, c)),
            10.0, interval_s=0.2, what=f"camera {camera} to resume on the surviving worker",
        )  # fmt: skip
    assert second.process.poll() is None

    for camera in (1, 2, 3, 4):
        history = read_detections(rdb, camera)
        assert history, f"camera {camera} was never analysed"
        runs = [history[0].worker]
        for previous, current in itertools.pairwise(history):
            assert current.analysed_at_s >= previous.analysed_at_s
            assert current.seq > previous.seq or current.worker != previous.worker, "frames analysed out of order"
            if current.worker != runs[-1]:
                assert current.worker not in runs, f"camera {camera} analysed by two workers at once: {runs}"
                runs.append(current.worker)


def test_a_worker_asked_for_nanodet_without_its_files_runs_on_and_says_why(
    ingest: Start, analyzer: Start, rdb: redis.Redis, tmp_path: Path
) -> None:
    """The object model missing (a failed download at set-up): the worker neither exits nor loops on
    restarts; it analyses what it can and its status names the cause and the cure."""
    cameras = demo_cameras(tmp_path, 1)
    ingest(cameras)
    env = {"CAMSTREAM_ANALYZER_DETECTOR": "nanodet", "CAMSTREAM_MODEL_DIR": str(tmp_path / "no-model"), **HISTORY}
    worker = analyzer(cameras, env=env)
    wait_until(lambda: len(read_detections(rdb, 1)) >= 10, 30.0, interval_s=0.2, what="frames analysed")
    (status,) = worker_statuses(rdb).values()
    assert status.provider.startswith("no object detection") and "scripts/setup.sh" in status.provider
    assert not any(o.label == "person" for d in read_detections(rdb, 1) for o in d.objects)
    assert worker.process.poll() is None
