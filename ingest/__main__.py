"""`python -m ingest`: the ingest manager, or with --camera ID one camera's process.
`python -m ingest probe` reads an RTSP URL on standard input and prints what it offers (JSON)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import cast

import redis
from pydantic import ValidationError

from ingest import forks, locks
from ingest.camera import CameraService
from ingest.leases import EXIT_FENCED, HostLeases, Keep, LeaseGuard, live_hosts, text
from ingest.manager import IngestManager
from ingest.probe import main as probe_main
from shared import keys
from shared.cameras import Camera
from shared.config import EXIT_CONFIG, cameras_or_exit
from shared.lifecycle import stop_on_signals
from shared.messages import MessageError
from shared.process import Action, ProcessSpec, Started, run_process
from shared.redis_client import sync_client
from shared.settings import Settings
from shared.status import CameraState, CameraStatus

log = logging.getLogger("ingest")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera", type=int, metavar="ID", help="run only this camera, in this process")
    parser.add_argument("--camera-on-stdin", action="store_true",
                        help="with --camera: read the camera's definition (JSON) from standard input, not the database "
                        "(how the manager starts a camera: its process never loads the database)")  # fmt: skip
    parser.add_argument("--fork-server", type=int, metavar="FD", help=argparse.SUPPRESS)  # the manager's (ingest.forks)


def run(started: Started) -> int:
    """The manager: one process per enabled camera, kept running, changed as the database's cameras change."""
    enabled = [c for c in started.cameras.cameras if c.enabled]
    if not enabled:
        log.warning("no enabled camera yet")
    from shared.db.watch import CameraWatcher  # noqa: PLC0415 - the manager's alone (see shared.config)

    manager = IngestManager(started.settings, enabled)
    CameraWatcher(started.settings, manager.cameras_changed, started.stop).start()  # cameras changed at run time
    return manager.run(started.stop)


def run_camera(settings: Settings, args: argparse.Namespace) -> int | None:
    """With --camera: that camera's process (None: the manager's run). With --fork-server: the
    manager's fork server (ingest.forks)."""
    if args.fork_server is not None:
        return forks.serve(args.fork_server)
    if args.camera is None:
        if args.camera_on_stdin:
            print("camstream ingest: --camera-on-stdin needs --camera", file=sys.stderr)
            return EXIT_CONFIG
        return None
    return _run_camera(args.camera, args.camera_on_stdin, settings)


def describe(camera: Camera) -> str:
    return f"camera {camera.id} {camera.name!r}: {camera.source_masked} @ {camera.fps:g} fps" + (
        "" if camera.enabled else " (disabled)"
    )


def probe(_settings: Settings, _args: argparse.Namespace) -> int:
    return probe_main()


def _run_camera(camera_id: int, on_stdin: bool, settings: Settings) -> int:
    """One camera's process: its camera from the manager's pipe, or (started by hand) the database.
    It holds its camera's lock for its life (ingest.locks): never two processes for one camera."""
    camera = _camera_from_stdin(camera_id) if on_stdin else cameras_or_exit("ingest", settings).camera(camera_id)
    if camera is None:
        print(f"camstream ingest: no camera with id {camera_id} in the database", file=sys.stderr)
        return EXIT_CONFIG
    folder = locks.lock_folder(settings.data_dir, settings.ingest_host)
    path = locks.camera_lock_path(folder, camera_id)
    held = locks.take(path, f"{os.getpid()} {locks.fingerprint(camera)}\n")
    if held is None:
        found = locks.running(folder, camera_id)
        print(f"camstream ingest: camera {camera_id} runs already (pid {found[0] if found else '?'})", file=sys.stderr)
        return locks.EXIT_ALREADY_RUNNING
    stop = stop_on_signals()
    guard = LeaseGuard(settings, camera_id, stop)
    answer = guard.confirm()  # before anything is written: the lease is ours, or (unfenced) Redis is away
    if answer is Keep.ELSEWHERE:
        print(f"camstream ingest: camera {camera_id} runs on ingest host {guard.elsewhere}", file=sys.stderr)
        return locks.EXIT_ALREADY_RUNNING
    if answer is Keep.UNKNOWN and settings.ingest_shared:
        print(f"camstream ingest: camera {camera_id}'s lease cannot be confirmed (Redis unreachable): not started "
              "(CAMSTREAM_INGEST_SHARED)", file=sys.stderr)  # fmt: skip
        return EXIT_FENCED
    guard.start()
    if on_stdin:  # started by a manager: outlives it for a while, for the next manager to adopt
        locks.OrphanWatch(folder, camera_id, stop, settings.ingest_orphan_s).start()
    try:
        CameraService(settings, camera, guard.may_write).run(stop)
    finally:
        guard.halt()
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


def check(settings: Settings, _args: argparse.Namespace) -> int:
    """This host's cameras and their state, the other ingest hosts; healthy when this host's manager
    heartbeats (CAMSTREAM_INGEST_HOST names the host)."""
    cameras = cameras_or_exit("ingest", settings)
    client = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s)
    enabled = [c for c in cameras.cameras if c.enabled]
    try:
        names = [text(n) for n in cast(list[bytes], client.zrange(keys.ingest_hosts(), 0, -1))]
        hosts = live_hosts(client, names)
        holders = HostLeases(client, settings).holders([c.id for c in enabled])
        statuses = client.mget([keys.camera_status(c.id) for c in enabled]) if enabled else []
    except redis.RedisError as e:
        print(f"unhealthy: Redis unreachable ({e})")
        return 1
    finally:
        client.close()
    me = settings.ingest_host
    for camera, raw in zip(enabled, statuses, strict=True):
        state: str
        try:
            state = CameraStatus.decode(raw).state if raw else CameraState.OFFLINE
        except MessageError as e:
            state = f"unreadable status ({e})"
        where = holders.get(camera.id)
        print(f"camera {camera.id} {camera.name}: {state}" + ("" if where == me else
              f" (on ingest host {where})" if where else " (on no ingest host)"))  # fmt: skip
    for name, host in sorted(hosts.items()):
        if name != me:
            print(f"ingest host {name}: {len(host.cameras)} camera(s), load {host.load:g}"
                  + (f", group {host.group}" if host.group else ""))  # fmt: skip
    mine = hosts.get(me)
    if mine is None:
        print(f"unhealthy: no ingest manager heartbeat from this host ({me})")
        return 1
    if mine.unplaced:
        print(f"cameras on no host (no live host in their group): {', '.join(map(str, mine.unplaced))}")
    print(f"healthy: ingest manager pid {mine.pid} on host {me}, {len(mine.cameras)} camera(s), load {mine.load:g}")
    return 0


SPEC = ProcessSpec(
    "ingest", __doc__ or "", run, check, describe, arguments=arguments,
    actions=(Action("probe", "probe the RTSP URL on standard input; print what it offers as JSON", probe),),
    run_alone=run_camera,
    log_name=lambda args: "ingest" if args.camera is None else f"ingest-camera-{args.camera}",
)  # fmt: skip

if __name__ == "__main__":
    sys.exit(run_process(SPEC))
