"""Ingest start-up: seconds from `python -m ingest` to an RTSP camera's first frame in Redis.

    .venv/bin/python -m bench.ingest_start [--runs 5] [--no-write]

What a camera costs to come up: the manager's start, the camera's own process (given its camera
down a pipe, without the database), the RTSP handshake and the first keyframe of a 640x360
25 fps camera (GStreamer's RTSP server, a keyframe a second). Median of the runs. It rewrites
the ingest-start section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.common import machine, write_section
from shared import keys
from shared.embedded_redis import EmbeddedRedis
from tests.support import RtspServer, rtsp_server_missing, write_camera_file


def first_frame_s(bus_url: str, server: RtspServer) -> float:
    folder = Path(tempfile.mkdtemp(prefix="camstream-bench-"))
    cameras = write_camera_file(folder, [{"id": 1, "name": "cam", "source": server.url(), "fps": 10}])
    env = {**os.environ, "CAMSTREAM_REDIS_URL": bus_url, "CAMSTREAM_CAMERAS_FILE": str(cameras),
           "CAMSTREAM_DATA_DIR": str(folder / "data"), "CAMSTREAM_LOG_LEVEL": "WARNING"}  # fmt: skip
    client = redis.Redis.from_url(bus_url)
    client.flushall()
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "ingest"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while not client.xlen(keys.frame_stream(1)):
            if time.monotonic() - started > 60:
                raise TimeoutError("no frame within 60 s")
            time.sleep(0.01)
        return time.monotonic() - started
    finally:
        process.terminate()
        process.wait(15)
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if (missing := rtsp_server_missing()) is not None:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 1
    with EmbeddedRedis() as bus:
        server = RtspServer(size="640x360", fps=25).start()
        try:
            times = [first_frame_s(bus.url, server) for _ in range(args.runs)]
        finally:
            server.stop()
    median = statistics.median(times)
    print(f"first frame: median {median:.2f} s over {args.runs} runs ({', '.join(f'{t:.2f}' for t in times)})")
    if not args.no_write:
        write_section("ingest-start", [
            "## Ingest start-up",
            "",
            f"Command: `.venv/bin/python -m bench.ingest_start --runs {args.runs}`. {machine()}.",
            "",
            f"From `python -m ingest` to an RTSP camera's first frame in Redis (640x360, 25 fps, a keyframe "
            f"a second): **median {median:.2f} s** ({', '.join(f'{t:.2f}' for t in sorted(times))}). Before a "
            "camera's process got its camera down a pipe (it loaded the database itself: SQLAlchemy, Alembic, "
            "the migration check), the same measurement on the same machine gave a median of 4.25 s "
            "(2026-12-05, with the worktree of commit cdae027).",
        ])  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
