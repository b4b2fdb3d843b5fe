"""Ingest benchmark: RTSP H.264 in, JPEG frames on Redis streams out.

    .venv/bin/python -m bench.ingest [--seconds 15] [--repeat 3] [--no-write]

For 1280x720@15 and 1920x1080@15 from GStreamer's RTSP server, with 1 and with 4 cameras,
it measures the camera processes' CPU (% of one core per camera: decode, fps pacing, JPEG,
XADD), the delay from packet receipt to XADD done (p50/p95, from the cameras' own status)
and JPEG bytes per frame. Figures are medians over the repeats. It rewrites the ingest
section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.common import DOC, cpu_seconds, gateway_env, machine, write_section
from shared import keys
from shared.embedded_redis import EmbeddedRedis
from shared.messages import FrameMessage
from tests.support import RtspServer, ServiceRun, camera_status, rtsp_server_missing, wait_until, write_camera_file

CASES = [("1280x720", 1), ("1280x720", 4), ("1920x1080", 1), ("1920x1080", 4)]
FPS = 15


@dataclass
class Result:
    cpu_pct_per_camera: float
    fps: float
    delay_p50_ms: float
    delay_p95_ms: float
    jpeg_kib: float
    server_cpu_pct: float


def measure(redis_url: str, server: RtspServer, cameras: int, seconds: float, folder: Path) -> Result:
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    camera_file = write_camera_file(
        folder, [{"id": i, "name": f"bench {i}", "source": server.url(), "fps": FPS} for i in range(1, cameras + 1)]
    )
    run = ServiceRun("ingest", redis_url, camera_file, folder / "ingest.log", env=gateway_env(folder))
    try:
        ids = range(1, cameras + 1)
        wait_until(lambda: all((s := camera_status(client, i)) and s.frames_sent > 0 for i in ids), 20.0)
        time.sleep(2.0)  # let start-up costs pass
        pids = [camera_status(client, i).pid for i in ids]
        server_pid = server._process.pid if server._process else 0
        cpu0, server0, t0 = sum(cpu_seconds(p) for p in pids), cpu_seconds(server_pid), time.monotonic()
        sent0 = sum(camera_status(client, i).frames_sent for i in ids)
        sizes: list[int] = []
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            for i in ids:
                for _id, fields in client.xrevrange(keys.frame_stream(i), count=1):
                    sizes.append(len(FrameMessage.from_entry(fields).jpeg))
        elapsed = time.monotonic() - t0
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
        server_cpu = cpu_seconds(server_pid) - server0
        statuses = [camera_status(client, i) for i in ids]
        sent = sum(s.frames_sent for s in statuses) - sent0
        return Result(
            cpu_pct_per_camera=100 * cpu / elapsed / cameras,
            fps=sent / elapsed / cameras,
            delay_p50_ms=statistics.median(s.delay_ms_p50 for s in statuses),
            delay_p95_ms=statistics.median(s.delay_ms_p95 for s in statuses),
            jpeg_kib=statistics.mean(sizes) / 1024,
            server_cpu_pct=100 * server_cpu / elapsed,
        )
    finally:
        run.stop()
        client.close()


def median_result(results: list[Result]) -> Result:
    return Result(*(statistics.median(getattr(r, f) for r in results) for f in Result.__dataclass_fields__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if reason := rtsp_server_missing():
        print(f"bench.ingest needs GStreamer's RTSP server: {reason} (scripts/test.sh installs it)", file=sys.stderr)
        return 1

    rows = []
    with EmbeddedRedis() as redis_server, tempfile.TemporaryDirectory() as folder:
        for size, cameras in CASES:
            server = RtspServer(size=size, fps=FPS).start()
            try:
                runs = [
                    measure(redis_server.url, server, cameras, args.seconds, Path(folder)) for _ in range(args.repeat)
                ]
            finally:
                server.stop()
            result = median_result(runs)
            rows.append((size, cameras, result))
            print(
                f"{size}@{FPS} x{cameras}: {result.cpu_pct_per_camera:.1f} % of a core per camera, "
                f"{result.fps:.1f} fps, delay p50 {result.delay_p50_ms:.1f} ms p95 {result.delay_p95_ms:.1f} ms, "
                f"JPEG {result.jpeg_kib:.0f} KiB/frame (RTSP server {result.server_cpu_pct:.0f} %)",
                flush=True,
            )
    if not args.no_write:
        write_doc(rows, args)
        print(f"wrote {DOC}")
    return 0


def write_doc(rows: list[tuple[str, int, Result]], args: argparse.Namespace) -> None:
    table = [
        "| stream | cameras | CPU per camera (% of a core) | fps per camera | receipt to XADD p50 / p95 (ms) "
        "| JPEG per frame (KiB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size, cameras, r in rows:
        table.append(
            f"| {size}@{FPS} H.264 | {cameras} | {r.cpu_pct_per_camera:.1f} | {r.fps:.1f} "
            f"| {r.delay_p50_ms:.1f} / {r.delay_p95_ms:.1f} | {r.jpeg_kib:.0f} |"
        )
    write_section("ingest", [
        "## Ingest",
        "",
        f"Command: `.venv/bin/python -m bench.ingest --seconds {args.seconds:g} --repeat {args.repeat}` "
        f"(or `make bench`). {machine()}; medians of {args.repeat} runs of {args.seconds:g} s.",
        "",
        "The source is GStreamer's RTSP server (videotestsrc SMPTE bars, moving; x264 ultrafast zerolatency, "
        "keyframe every 30 frames), one shared encoder per resolution. CPU is that of the camera processes "
        "only (decode, fps pacing, JPEG at quality 80 straight from the YUV planes, XADD), read from "
        "/proc; the RTSP server's own cost is left out. Delay runs from the RTSP packet's receipt to the end "
        "of its XADD, as each camera reports it in its status record.",
        "",
        *table,
        "",
        "Target: at most 8 % of a core per 720p15 camera and 18 % per 1080p15 camera.",
    ])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
