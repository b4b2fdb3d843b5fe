"""`python -m ingest`: the ingest manager, or with --camera ID one camera's process."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import redis
from pydantic import ValidationError

from ingest import locks
from ingest.camera import CameraService
from ingest.manager import IngestManager
from ingest.probe import main as probe_main
from shared import keys
from shared.cameras import Camera, CameraFile
from shared.config import EXIT_CONFIG, cameras_or_exit, load_file_config_or_exit, load_settings_or_exit
from shared.lifecycle import stop_on_signals
from shared.logs import setup_logging
from shared.messages import MessageError
from shared.redis_client import sync_client
from shared.settings import Settings
from shared.status import CameraState, CameraStatus

log = logging.getLogger("ingest")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--camera", type=int, metavar="ID", help="run only this camera, in this process")
    parser.add_argument("--camera-on-stdin", action="store_true",
                        help="with --camera: read the camera's definition (JSON) from standard input, not the database "
                        "(how the manager starts a camera: its process never loads the database)")  # fmt: skip
    mode.add_argument("--validate-config", action="store_true", help="check settings and camera file, then exit")
    mode.add_argument("--check", action="store_true", help="exit 0 if the ingest manager is alive in Redis")
    mode.add_argument("--probe", action="store_true", help="probe the RTSP URL on standard input; print JSON")
    args = parser.parse_args(argv)
    if args.probe:
        return probe_main()

    if args.validate_config:
        _, cameras = load_file_config_or_exit("ingest")
        for c in cameras.cameras:
            print(f"camera {c.id} {c.name!r}: {c.source_masked} @ {c.fps:g} fps{'' if c.enabled else ' (disabled)'}")
        return 0
    settings = load_settings_or_exit("ingest")
    if args.check:
        return check(settings, cameras_or_exit("ingest", settings))

    setup_logging(settings.log_level, "ingest" if args.camera is None else f"ingest-camera-{args.camera}")
    if args.camera is not None:
        return _run_camera(args.camera, args.camera_on_stdin, settings)
    cameras = cameras_or_exit("ingest", settings)
    stop = stop_on_signals()
    enabled = [c for c in cameras.cameras if c.enabled]
    if not enabled:
        log.warning("no enabled camera yet")
    from shared.db.watch import CameraWatcher  # noqa: PLC0415 - the manager's alone (see shared.config)

    manager = IngestManager(enabled, settings, settings.cameras_file)
    CameraWatcher(settings, manager.cameras_changed, stop).start()  # cameras changed at run time
    manager.run(stop)
    return 0


def _run_camera(camera_id: int, on_stdin: bool, settings: Settings) -> int:
    """One camera's process: its camera from the manager's pipe, or (started by hand) the database.
    It holds its camera's lock for its life (ingest.locks): never two processes for one camera."""
    camera = _camera_from_stdin(camera_id) if on_stdin else cameras_or_exit("ingest", settings).camera(camera_id)
    if camera is None:
        print(f"camstream ingest: no camera with id {camera_id} in the database", file=sys.stderr)
        return EXIT_CONFIG
    folder = locks.lock_folder(settings.data_dir)
    path = locks.camera_lock_path(folder, camera_id)
    held = locks.take(path, f"{os.getpid()} {locks.fingerprint(camera)}\n")
    if held is None:
        found = locks.running(folder, camera_id)
        print(f"camstream ingest: camera {camera_id} runs already (pid {found[0] if found else '?'})", file=sys.stderr)
        return locks.EXIT_ALREADY_RUNNING
    stop = stop_on_signals()
    if on_stdin:  # started by a manager: outlives it for a while, for the next manager to adopt
        locks.OrphanWatch(folder, camera_id, stop, settings.ingest_orphan_s).start()
    try:
        CameraService(camera, settings, stop).run()
    finally:
        held.release()  # (the kernel would at exit; said here so that nothing collects it before)
    return 0


def _camera_from_stdin(camera_id: int) -> Camera:
    """The camera the manager wrote to our standard input (a pipe: never a command line)."""
    try:
        camera = Camera.model_validate(json.loads(sys.stdin.read()))
    except (ValueError, ValidationError) as e:
        print(f"camstream ingest: camera {camera_id}'s definition on standard input is unusable: "
              f"{type(e).__name__}", file=sys.stderr)  # fmt: skip
        raise SystemExit(EXIT_CONFIG) from None
    if camera.id != camera_id:
        print(f"camstream ingest: standard input holds camera {camera.id}, not {camera_id}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    return camera


def check(settings: Settings, cameras: CameraFile) -> int:
    """Print each camera's state; healthy when the manager's heartbeat is fresh."""
    client = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s)
    try:
        heartbeat = client.get(keys.ingest_heartbeat())
        statuses = client.mget([keys.camera_status(c.id) for c in cameras.cameras])
    except redis.RedisError as e:
        print(f"unhealthy: Redis unreachable ({e})")
        return 1
    finally:
        client.close()
    for camera, raw in zip(cameras.cameras, statuses, strict=True):
        state: str
        try:
            state = CameraStatus.decode(raw).state if raw else CameraState.OFFLINE
        except MessageError as e:
            state = f"unreadable status ({e})"
        print(f"camera {camera.id} {camera.name}: {state}")
    if heartbeat is None:
        print("unhealthy: no ingest manager heartbeat")
        return 1
    print(f"healthy: ingest manager pid {json.loads(heartbeat)['pid']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
