"""Gateway benchmark: API throughput, CPU per viewer count, glass-to-glass latency.

    .venv/bin/python -m bench.gateway [--seconds 10] [--no-write]

1. `GET /api/cameras` requests a second on one gateway process (wrk, 32 connections, 4 demo
   cameras being ingested), median of 3 runs;
2. the gateway process's CPU for one 1280x720@15 H.264 camera (GStreamer RTSP server ->
   ingest -> Redis -> gateway) with 1, 4 and 16 aiortc viewers, and what a viewer adds;
It rewrites the gateway section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import machine, write_section
from shared.embedded_redis import EmbeddedRedis, free_port
from tests.support import ROOT, RtspServer, ServiceRun, rtsp_server_missing, wait_until, write_camera_file

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
QUIET = {"CAMSTREAM_LOG_LEVEL": "WARNING", "CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def start_gateway(redis_url: str, cameras: Path | None, folder: Path) -> tuple[ServiceRun, str]:
    port = free_port()
    run = ServiceRun("gateway", redis_url, cameras, folder / "gateway.log", "--host", "127.0.0.1", "--port", str(port),
                     env=QUIET)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(base), 30.0, what="the gateway")
    return run, base


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _all_receiving(base: str, count: int) -> bool:
    sessions = httpx.get(f"{base}/api/streams/status").json()["sessions"]
    return len(sessions) == count and all(s["framesSent"] > 15 for s in sessions)


def api_rate(seconds: float) -> float:
    if shutil.which("wrk") is None:
        print("wrk not found (apt-get install wrk): skipping the API rate", file=sys.stderr)
        return float("nan")
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        ingest = ServiceRun("ingest", server.url, None, Path(folder) / "ingest.log", env=QUIET)
        gateway, base = start_gateway(server.url, None, Path(folder))
        try:
            wait_until(lambda: httpx.get(f"{base}/api/cameras/1").json()["status"] == "streaming", 30.0)
            rates = []
            for _ in range(3):
                out = subprocess.run(["wrk", "-t1", "-c32", f"-d{seconds:g}s", f"{base}/api/cameras"],
                                     capture_output=True, text=True, check=True).stdout  # fmt: skip
                rates.append(float(re.search(r"Requests/sec:\s+([0-9.]+)", out)[1]))  # type: ignore[index]
            return statistics.median(rates)
        finally:
            gateway.stop()
            ingest.stop()


def viewer_cpu(seconds: float, counts: tuple[int, ...]) -> dict[int, float]:
    results = {}
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        rtsp = RtspServer(size="1280x720", fps=15).start()
        cameras = write_camera_file(Path(folder), [{"id": 1, "name": "bench", "source": rtsp.url(), "fps": 15}])
        ingest = ServiceRun("ingest", server.url, cameras, Path(folder) / "ingest.log", env=QUIET)
        gateway, base = start_gateway(server.url, cameras, Path(folder))
        try:
            wait_until(lambda: httpx.get(f"{base}/api/cameras/1").json()["fps"], 30.0)
            for count in counts:
                viewers = subprocess.Popen([sys.executable, "-m", "tests.support.viewer", base, "1", str(count)],
                                           cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
                try:
                    wait_until(lambda c=count: _all_receiving(base, c), 60.0, interval_s=0.5, what=f"{count} viewers")
                    time.sleep(2.0)
                    before, started = cpu_seconds(gateway.pid), time.monotonic()
                    time.sleep(seconds)
                    results[count] = 100 * (cpu_seconds(gateway.pid) - before) / (time.monotonic() - started)
                    print(f"{count} viewer(s): gateway {results[count]:.1f} % of a core", flush=True)
                finally:
                    viewers.kill()
                    viewers.wait()
                wait_until(lambda: not httpx.get(f"{base}/api/streams/status").json()["sessions"], 30.0, interval_s=0.5)
        finally:
            gateway.stop()
            ingest.stop()
            rtsp.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if reason := rtsp_server_missing():
        print(f"bench.gateway needs GStreamer's RTSP server: {reason}", file=sys.stderr)
        return 1
    rate = api_rate(args.seconds)
    print(f"GET /api/cameras: {rate:.0f} requests a second", flush=True)
    cpu = viewer_cpu(args.seconds, (1, 4, 16))
    per_viewer = (cpu[16] - cpu[4]) / 12
    print(f"each viewer past the 4th adds {per_viewer:.2f} % of a core", flush=True)
    if not args.no_write:
        write_section("gateway", [
            "## Gateway",
            "",
            f"Command: `.venv/bin/python -m bench.gateway --seconds {args.seconds:g}` (or `make bench`). {machine()}.",
            "",
            f"`GET /api/cameras` on one gateway process: **{rate:.0f} requests a second** (wrk, 1 thread, 32 "
            "connections, 4 demo cameras being ingested; median of 3 runs). Target: 2,000.",
            "",
            "Gateway CPU for one 1280x720@15 H.264 camera (GStreamer RTSP server, ingest, Redis, gateway) by "
            "number of aiortc viewers, each in a peer connection of its own. The gateway decodes the camera's "
            "JPEG and encodes H.264 once for all of them; a viewer costs only packetizing and sending.",
            "",
            "| viewers | gateway CPU (% of a core) |",
            "| --- | --- |",
            *[f"| {n} | {c:.1f} |" for n, c in cpu.items()],
            "",
            f"Each viewer past the fourth adds {per_viewer:.2f} % of a core (target: the 16th adds at most 2 %).",
        ])  # fmt: skip
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
