"""`python -m analyzer`: one analyzer worker. Run as many as you like against one Redis."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import cast

import cv2
import redis

from analyzer.service import AnalyzerService
from shared import keys
from shared.config import cameras_or_exit, load_file_config_or_exit, load_settings_or_exit
from shared.db.watch import CameraWatcher
from shared.lifecycle import stop_on_signals
from shared.logs import setup_logging
from shared.messages import MessageError
from shared.redis_client import sync_client
from shared.settings import Settings
from shared.status import WorkerStatus

log = logging.getLogger("analyzer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analyzer", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--validate-config", action="store_true", help="check settings and camera file, then exit")
    mode.add_argument("--check", action="store_true", help="exit 0 if at least one analyzer worker is alive")
    args = parser.parse_args(argv)
    if args.validate_config:
        _, cameras = load_file_config_or_exit("analyzer")
        for c in cameras.cameras:
            a = c.analysis
            what = ", ".join(k for k in ("motion", "person", "face") if getattr(a, k)) if a.enabled else "off"
            print(f"camera {c.id} {c.name!r}: analysis {what} at {a.fps:g} fps")
        return 0
    settings = load_settings_or_exit("analyzer")
    if args.check:
        return check(settings)
    # OpenCV and OpenMP would take every core; a worker uses what it is given and more workers scale out.
    os.environ.setdefault("OMP_NUM_THREADS", str(settings.analyzer_threads))
    cv2.setNumThreads(settings.analyzer_threads)
    setup_logging(settings.log_level, "analyzer")
    cameras = cameras_or_exit("analyzer", settings)
    stop = stop_on_signals()
    service = AnalyzerService(settings, cameras.cameras, stop)
    # Cameras and known faces changed at run time.
    CameraWatcher(settings, service.cameras_changed, stop, on_faces=service.faces_changed).start()
    return service.run()


def check(settings: Settings) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
