"""Soak: the whole system for N minutes under a steady load; does anything grow?

    .venv/bin/python -m bench.soak [--minutes 60] [--interval 10] [--no-write] [--check]

Runs what the run command runs (ingest, one analyzer worker, recorder, bridge, gateway) on the
four demo cameras plus one RTSP camera (GStreamer, 640x360@15, recorded continuously), with two
WebRTC viewers (aiortc, in a process of their own) and one MJPEG client. Every `--interval` it
samples each process's resident memory (the ingest manager and each camera process, Redis, the
viewers too), each camera's frame rate and every log's error lines. At the end it prints, per
process, the memory after the warm-up (the first fifth of the run, at least a minute) and at the
end, and the growth; Redis's memory by key family (frames, packets, detections, events, ...) with
each family's bound; the frame rates; the errors. `--check` exits 1 when a process grew by 5 % or
more after the warm-up (Redis: when a stream is past its bound), a camera stopped, or anything
logged an error (the fault suite runs it so).
It rewrites the soak section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from bench.common import gateway_env, machine, write_section
from shared import keys
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.settings import load_settings
from tests.support import (
    ROOT,
    RtspServer,
    ServiceRun,
    camera_pids,
    gateway_answers,
    rss_mb,
    rtsp_server_missing,
    wait_until,
    web,
    write_camera_file,
)

GROWTH_LIMIT = 0.05
RTSP_CAMERA = 5
DEMO = [(i, f"demo:{scene}?size=1280x720") for i, scene in
        enumerate(("front_door", "back_yard", "garage", "side_entrance"), start=1)]  # fmt: skip
ERROR_LINE = re.compile(r" (ERROR|CRITICAL) |Traceback")


def rss_or_none(pid: int) -> float | None:
    """A process's resident memory in MB; None once it is gone."""
    try:
        return rss_mb(pid)
    except (OSError, IndexError, ValueError):
        return None


def key_family(key: str) -> str:
    """A key with its camera or worker id (any part with a digit) made a *, so that families sum up."""
    return re.sub(r"(?<=:)(?=[^:]*\d)[^:]+(?=:|$)", "*", key)


def bounds() -> dict[str, str]:
    """What keeps each key family from growing, from the settings the processes run with."""
    settings = load_settings()
    return {
        key_family(keys.frame_stream(1)): f"{settings.frame_stream_s:g} s of frames a camera (MAXLEN)",
        key_family(keys.packet_stream(1)): f"{settings.packet_stream_s:g} s of access units, from a keyframe",
        key_family(keys.audio_stream(1)): "200 audio packets a camera (MAXLEN)",
        key_family(keys.detections_stream(1)): f"{settings.detections_stream_len} entries a camera (MAXLEN)",
        keys.EVENTS_STREAM: f"{settings.events_history_len} events (MAXLEN); durable history is the database's",
        key_family(keys.camera_status(1)): "one small hash a camera",
        key_family(keys.camera_lease(1)): "one key a camera, with a TTL",
        key_family(keys.analyzer_status("w1")): "one a worker, with a TTL",
    }


def overlong_streams(client: redis.Redis, fps: float) -> list[str]:
    """Streams longer than their MAXLEN allows (approximate trimming leaves up to a node, 100, over)."""
    settings = load_settings()
    limits = {
        "frames": math.ceil(fps * settings.frame_stream_s), "detections": settings.detections_stream_len,
        "history": settings.events_history_len,
    }  # fmt: skip
    over = []
    for key in client.scan_iter(count=500):
        name = key.decode(errors="replace")
        limit = limits.get(name.rsplit(":", 1)[-1])
        if limit is not None and (length := client.xlen(key)) > limit + 100:
            over.append(f"{name}: {length} entries, bound {limit}")
    return over


def redis_families(client: redis.Redis) -> dict[str, tuple[int, float]]:
    """Per key family: how many keys, and their memory in MB (MEMORY USAGE, every element sampled)."""
    families: dict[str, list[float]] = defaultdict(list)
    for key in client.scan_iter(count=500):
        name = key.decode(errors="replace")
        usage = client.memory_usage(key, samples=0) or 0
        families[key_family(name)].append(usage / 1e6)
    return {name: (len(sizes), sum(sizes)) for name, sizes in sorted(families.items())}


class MjpegClient:
    """Reads one camera's MJPEG stream for as long as it runs, counting parts; reconnects if cut."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token, self.parts = url, token, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self._stop.is_set():
            try:
                with httpx.stream("GET", self.url, headers=headers, timeout=10) as reply:
                    for chunk in reply.iter_bytes():
                        self.parts += chunk.count(b"--frame")
                        if self._stop.is_set():
                            return
            except httpx.HTTPError:
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)
    rss: dict[str, list[float | None]] = field(default_factory=lambda: defaultdict(list))
    fps: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, at: float, memory: dict[str, float | None], rates: dict[int, float]) -> None:
        self.times.append(at)
        for name, value in memory.items():
            self.rss[name].append(value)
        for camera_id, rate in rates.items():
            self.fps[camera_id].append(rate)


def growth(values: list[float | None], times: list[float], warm_up_s: float) -> tuple[float, float, float]:
    """Memory after the warm-up (median of the samples of the minute after it), at the end (median of
    the last minute's samples), and the growth between them."""
    alive = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
    end_t = alive[-1][0]
    start = statistics.median([v for t, v in alive if warm_up_s <= t <= warm_up_s + 60] or [alive[0][1]])
    end = statistics.median([v for t, v in alive if t >= end_t - 60])
    return start, end, (end - start) / start


def soak(minutes: float, interval_s: float, folder: Path) -> tuple[Samples, dict[str, tuple[int, float]], list[str]]:
    env = {**gateway_env(folder), "CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1", "CAMSTREAM_LOG_LEVEL": "INFO",
           "CAMSTREAM_RECORDINGS_DIR": str(folder / "recordings")}  # fmt: skip
    with EmbeddedRedis() as server:
        rtsp = RtspServer(size="640x360", fps=15).start()
        cameras = write_camera_file(folder, [
            *[{"id": i, "name": f"demo {i}", "source": source, "fps": 15} for i, source in DEMO],
            {"id": RTSP_CAMERA, "name": "rtsp", "source": rtsp.url(), "fps": 15, "record": {"mode": "continuous"}},
        ])  # fmt: skip
        runs = {name: ServiceRun(name, server.url, cameras, folder / f"{name}.log", env=env)
                for name in ("ingest", "analyzer", "recorder", "bridge")}  # fmt: skip
        port = free_port()
        runs["gateway"] = ServiceRun("gateway", server.url, cameras, folder / "gateway.log",
                                     "--host", "127.0.0.1", "--port", str(port), env=env)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        client = redis.Redis.from_url(server.url)
        viewers: subprocess.Popen[bytes] | None = None
        mjpeg: MjpegClient | None = None
        try:
            wait_until(lambda: gateway_answers(base), 60.0, what="the gateway")
            ids = [i for i, _ in DEMO] + [RTSP_CAMERA]
            pids = wait_until(lambda: camera_pids(client, ids), 60.0, what="every camera's process") or []
            token = web.token(base)
            viewer_env = {**os.environ, "CAMSTREAM_API_TOKEN": token}
            viewers = subprocess.Popen([sys.executable, "-m", "tests.support.viewer", base, str(RTSP_CAMERA), "2"],
                                       cwd=ROOT, stdout=subprocess.DEVNULL, env=viewer_env)  # fmt: skip
            mjpeg = MjpegClient(f"{base}/api/cameras/1/mjpeg", token)
            processes = {name: run.pid for name, run in runs.items()} | {"viewers": viewers.pid}
            if server.pid is not None:
                processes["redis"] = server.pid
            processes |= {f"camera {cid}": pid for cid, pid in zip(ids, pids, strict=True)}
            samples = Samples()
            started = time.monotonic()
            while (now := time.monotonic() - started) < minutes * 60:
                cameras_now = {c["id"]: c for c in web.get(f"{base}/api/cameras", timeout=10).json()}
                samples.add(now, {name: rss_or_none(pid) for name, pid in processes.items()},
                            {cid: float(cameras_now[cid]["fps"] or 0.0) for cid in ids})  # fmt: skip
                print(f"{now / 60:5.1f} min: " + ", ".join(
                    f"{name} {value:.0f}" for name, values in samples.rss.items() if (value := values[-1])
                ) + " MB; fps " + " ".join(f"{samples.fps[c][-1]:.0f}" for c in ids), flush=True)  # fmt: skip
                time.sleep(interval_s)
            families = redis_families(client)
            errors = [f"Redis {line}" for line in overlong_streams(client, 15)]
            errors += [f"{run.log_path.name}: {line}" for run in runs.values()
                      for line in run.log_text().splitlines() if ERROR_LINE.search(line)]  # fmt: skip
            if mjpeg.parts == 0:
                errors.append("the MJPEG client got no picture")
            return samples, families, errors
        finally:
            if mjpeg is not None:
                mjpeg.close()
            if viewers is not None:
                viewers.kill()
                viewers.wait()
            for run in reversed(list(runs.values())):
                run.stop()
            client.close()
            rtsp.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 on growth, a stopped camera or an error")
    args = parser.parse_args()
    if reason := rtsp_server_missing():
        print(f"soak: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        samples, families, errors = soak(args.minutes, args.interval, Path(folder))
    warm_up_s = max(60.0, args.minutes * 60 / 5)
    memory = {name: growth(values, samples.times, warm_up_s) for name, values in samples.rss.items()}
    late = [i for i, t in enumerate(samples.times) if t >= warm_up_s]
    rates = {cid: statistics.median(values[i] for i in late) for cid, values in samples.fps.items()}
    rows = [f"| {name} | {start:.0f} | {end:.0f} | {100 * change:+.1f} % |" for name, (start, end, change) in
            memory.items()]  # fmt: skip
    print("\n".join(["process | MB after warm-up | MB at end | growth", *rows]))
    bound = bounds()
    print("redis key family | keys | MB | bound")
    for name, (count, size) in families.items():
        print(f"{name} | {count} | {size:.2f} | {bound.get(name, 'one key')}")
    print("fps after warm-up: " + ", ".join(f"camera {cid} {rate:.1f}" for cid, rate in rates.items()))
    print(f"errors: {len(errors)}" + "".join(f"\n  {line}" for line in errors[:20]))
    # Redis is judged by its streams' bounds (above), not its RSS: the events stream fills towards
    # its 10,000 entries for hours, and the allocator's RSS moves by megabytes from sample to sample.
    grown = [name for name, (_s, _e, change) in memory.items() if change >= GROWTH_LIMIT and name != "redis"]
    stopped = [cid for cid, rate in rates.items() if rate < 1.0]
    if not args.no_write:
        write_section("soak", [
            "## Soak", "",
            f"Command: `.venv/bin/python -m bench.soak --minutes {args.minutes:g}`. {machine()}.", "",
            "Four demo cameras (1280x720@15) and one RTSP camera (640x360@15, recorded continuously); "
            "ingest, one analyzer worker, recorder, bridge and gateway as the run command starts them; "
            "two WebRTC viewers of the RTSP camera and one MJPEG client of camera 1. Resident memory "
            f"after the warm-up (the first {warm_up_s / 60:g} min; median of the next minute's samples) "
            "and at the end (median of the last minute's).", "",
            "| process | MB after warm-up | MB at end | growth |", "| --- | --- | --- | --- |", *rows, "",
            "Redis at the end, by key family (the bound each is kept to: docs/redis-contract.md):", "",
            "| key family | keys | MB | bound |", "| --- | --- | --- | --- |",
            *[f"| `{name}` | {count} | {size:.2f} | {bound.get(name, 'one key')} |"
              for name, (count, size) in families.items()], "",
            "Redis's own memory is judged by these bounds (every stream within its MAXLEN at the end, "
            "checked), not by its growth: the events stream fills towards its 10,000 entries over hours, "
            "and the allocator's RSS moves by megabytes between samples.", "",
            "Frame rates after the warm-up (median): "
            + ", ".join(f"camera {cid} {rate:.1f} fps" for cid, rate in rates.items())
            + f". Errors logged: {len(errors)}.",
        ])  # fmt: skip
        print("wrote docs/benchmarks.md")
    if args.check and (grown or stopped or errors):
        print(f"soak: grown {grown}, stopped cameras {stopped}, {len(errors)} error(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
