"""`python -m analyzer`: one analyzer worker. Run as many as you like against one Redis."""

from __future__ import annotations

import argparse
import os
import sys
from typing import cast

import cv2
import redis

from analyzer.service import AnalyzerService
from shared import keys
from shared.cameras import Camera
from shared.db.watch import CameraWatcher
from shared.messages import MessageError
from shared.process import ProcessSpec, Started, run_process
from shared.redis_client import sync_client
from shared.settings import Settings
from shared.status import WorkerStatus


def run(started: Started) -> int:
    settings = started.settings
    # OpenCV and OpenMP would take every core; a worker uses what it is given and more workers scale out.
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.analyzer_threads))
    cv2.setNumThreads(settings.analyzer_threads)
    service = AnalyzerService(settings, started.cameras.cameras)
    # Cameras and known faces changed at run time.
    CameraWatcher(settings, service.cameras_changed, started.stop, on_faces=service.faces_changed).start()
    return service.run(started.stop)


def describe(camera: Camera) -> str:
    a = camera.analysis
    what = ", ".join(k for k in ("motion", "person", "face") if getattr(a, k)) if a.enabled else "off"
    return f"camera {camera.id} {camera.name!r}: analysis {what} at {a.fps:g} fps"


def check(settings: Settings, _args: argparse.Namespace) -> int:
    """Healthy while at least one worker's status record is fresh."""
    client = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s)
    try:
        workers = [w.decode() for w in cast(list[bytes], client.zrange(keys.analyzer_workers(), 0, -1))]
        records = client.mget([keys.analyzer_status(w) for w in workers]) if workers else []
    except redis.RedisError as e:
        print(f"unhealthy: Redis unreachable ({e})")
        return 1
    finally:
        client.close()
    alive = 0
    for worker, raw in zip(workers, records, strict=True):
        try:
            status = WorkerStatus.decode(raw) if raw else None
        except MessageError:
            status = None
        if status is not None:
            alive += 1
            print(f"worker {worker}: cameras {', '.join(status.cameras) or 'none'} on {status.provider}")
    print(f"{'healthy' if alive else 'unhealthy'}: {alive} analyzer worker(s) alive")
    return 0 if alive else 1


SPEC = ProcessSpec("analyzer", __doc__ or "", run, check, describe)

if __name__ == "__main__":
    sys.exit(run_process(SPEC))
