"""Ingest hosts benchmark: cameras shared out over one or two ingest managers, CPU per camera and failover.

    .venv/bin/python -m bench.ingest_hosts [--cameras 8,16] [--managers 1,2] [--starts forked,cold]
                                           [--seconds 60] [--kills 10] [--no-write]

Each camera is the scale benchmark's pair (bench/clips.py: a 1920x1080@15 H.264 main stream, relayed
and recorded by stream copy, and its 640x360@15 sub stream, decoded for analysis), looped by
GStreamer's RTSP server without re-encoding. For each number of managers and cameras: every manager
(`python -m ingest` with its own CAMSTREAM_INGEST_HOST, CAMSTREAM_INGEST_SHARED=true, the hosts sharing
this machine) until every camera streams, then the CPU of each host's manager and camera processes over
`--seconds`, per camera. With two managers, `--kills` times: one host killed (its manager and camera
processes, SIGKILL), the time until each of its cameras' frames flow from the other (failover: p50,
p95, max), then the host started again and the load shared again. Throughout, every camera's frame
stream is read whole: a frame from a camera process other than the newest to start writing it is a
duplicate (two hosts running one camera); the count must be 0. `--starts`: camera processes forked
from the manager's fork server (ingest.forks, the default) and started cold (`python -m ingest
--camera`, CAMSTREAM_INGEST_FORK_SERVER=false, the old path), side by side. Rewrites its section of
docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.common import cpu_seconds, machine, write_section
from bench.scale import ClipServer
from shared import keys
from shared.embedded_redis import EmbeddedRedis
from shared.ingest_hosts import IngestHost
from shared.messages import FrameMessage, MessageError, entry_payload
from tests.support import ServiceRun, wait_until, write_camera_file

QUIET = {"CAMSTREAM_LOG_LEVEL": "WARNING", "CAMSTREAM_INGEST_SHARED": "true"}


class FrameWatch(threading.Thread):
    """Reads every camera's frame stream whole. A camera process numbers its frames from 0: a frame
    that continues a numbering after a newer one began was written by a second process at once."""

    def __init__(self, url: str, cameras: list[int]) -> None:
        super().__init__(daemon=True)
        self._client = redis.Redis.from_url(url)
        self._cameras = cameras
        self.halt = threading.Event()
        self.frames = 0
        self.duplicates = 0
        self._writers: dict[int, list[int]] = {c: [] for c in cameras}  # each numbering's last frame, newest last

    def run(self) -> None:
        ids = {keys.frame_stream(c): "$" for c in self._cameras}
        while not self.halt.is_set():
            try:
                replies = self._client.xread(ids, block=500)  # type: ignore[arg-type]
            except redis.RedisError:
                time.sleep(0.2)
                continue
            for stream, entries in replies or []:
                camera = int(stream.decode().split(":")[2])
                for entry_id, fields in entries:
                    ids[stream.decode()] = entry_id
                    self._count(camera, fields)

    def _count(self, camera: int, fields: dict[bytes, bytes]) -> None:
        try:
            seq = FrameMessage.decode(entry_payload(fields, keys.FRAME_FIELD)).seq
        except MessageError:
            return
        self.frames += 1
        writers = self._writers[camera]
        # The numbering this frame continues: the one whose last frame is just below it.
        found = next((i for i in range(len(writers) - 1, -1, -1) if 0 < seq - writers[i] <= 50), None)
        if found is None:
            writers.append(seq)  # a process started writing the camera
            del writers[:-4]
            return
        if found != len(writers) - 1:
            self.duplicates += 1
        writers[found] = seq


@dataclass
class Figures:
    start: str  # forked, cold
    managers: int
    cameras: int
    cpu_per_camera: dict[str, float]  # host: % of a core per camera it runs
    failovers: list[float] = field(default_factory=list)
    frames: int = 0
    duplicates: int = 0


class Hosts:
    def __init__(self, folder: Path, url: str, camera_file: Path, forked: bool) -> None:
        self.folder, self.url, self.camera_file, self.forked = folder, url, camera_file, forked
        self.runs: dict[str, ServiceRun] = {}
        self.client = redis.Redis.from_url(url)

    def start(self, host: str) -> None:
        env = {**QUIET, "CAMSTREAM_INGEST_HOST": host, "CAMSTREAM_DATA_DIR": str(self.folder / "data"),
               "CAMSTREAM_RECORDINGS_DIR": str(self.folder / "recordings"),
               "CAMSTREAM_INGEST_FORK_SERVER": str(self.forked).lower()}  # fmt: skip
        self.runs[host] = ServiceRun("ingest", self.url, self.camera_file, self.folder / f"{host}.log", env=env)

    def records(self) -> dict[str, IngestHost]:
        found = {}
        for name in self.runs:
            raw = self.client.get(keys.ingest_host(name))
            if raw is not None:
                found[name] = IngestHost.decode(raw)
        return found

    def kill(self, host: str) -> None:
        """The host dies: its manager and camera processes, SIGKILL, at once."""
        record = self.records().get(host)
        pids = [self.runs[host].pid, *[p for p in (record.cameras.values() if record else []) if p]]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.runs.pop(host).stop(1.0)

    def streaming_split(self, count: int) -> dict[str, list[int]] | None:
        records = self.records()
        split = {h: sorted(int(c) for c, pid in r.cameras.items() if pid) for h, r in records.items()}
        cameras = sorted(c for cs in split.values() for c in cs)
        if cameras != list(range(1, count + 1)):
            return None
        sizes = sorted(len(v) for v in split.values())
        fresh = all(self._last_frame(c) > time.time() - 2 for c in cameras)
        return split if fresh and sizes[-1] - sizes[0] <= max(1, count // 8) and len(sizes) == len(self.runs) else None

    def _last_frame(self, camera: int) -> float:
        last = self.client.xrevrange(keys.frame_stream(camera), count=1)
        return int(last[0][0].split(b"-")[0]) / 1000 if last else 0.0

    def first_frame_after(self, camera: int, since: float) -> float | None:
        entries = self.client.xrange(keys.frame_stream(camera), min=f"{int(since * 1000)}-0", count=1)
        return int(entries[0][0].split(b"-")[0]) / 1000 if entries else None

    def cpu(self, seconds: float) -> dict[str, float]:
        records = self.records()
        pids = {h: [self.runs[h].pid, *[p for p in r.cameras.values() if p]] for h, r in records.items()}
        before = {h: sum(cpu_seconds(p) for p in ps) for h, ps in pids.items()}
        time.sleep(seconds)
        after = {h: sum(cpu_seconds(p) for p in ps) for h, ps in pids.items()}
        return {h: 100.0 * (after[h] - before[h]) / seconds / max(1, len(pids[h]) - 1) for h in pids}

    def stop(self) -> None:
        for run in self.runs.values():
            run.stop(20.0)
        self.client.close()


def run(server: ClipServer, start: str, managers: int, cameras: int, seconds: float, kills: int) -> Figures:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        embedded = EmbeddedRedis()
        embedded.start()
        camera_file = write_camera_file(folder, [
            {"id": n, "name": f"camera {n}", "source": server.url("main"), "detect_source": server.url("sub"),
             "record": {"mode": "continuous"}} for n in range(1, cameras + 1)
        ])  # fmt: skip
        watch = FrameWatch(embedded.url, list(range(1, cameras + 1)))
        watch.start()
        hosts = Hosts(folder, embedded.url, camera_file, start == "forked")
        try:
            names = [f"bench-{i}" for i in range(1, managers + 1)]
            for host in names:
                hosts.start(host)
            wait_until(lambda: hosts.streaming_split(cameras), 180.0, interval_s=1.0, what="every camera streaming")
            time.sleep(5.0)
            figures = Figures(start, managers, cameras, hosts.cpu(seconds))
            for kill in range(kills if managers > 1 else 0):
                split = wait_until(lambda: hosts.streaming_split(cameras), 120.0, interval_s=0.5, what="shared")
                victim = names[kill % len(names)]
                killed = time.time()
                hosts.kill(victim)
                for camera in split[victim]:
                    first = wait_until(lambda c=camera, k=killed: hosts.first_frame_after(c, k), 60.0, interval_s=0.1,
                                       what=f"camera {camera} failing over")  # fmt: skip
                    figures.failovers.append(first - killed)
                hosts.start(victim)
            figures.frames, figures.duplicates = watch.frames, watch.duplicates
            return figures
        finally:
            watch.halt.set()
            watch.join()
            hosts.stop()
            embedded.stop()


def report(results: list[Figures], seconds: float) -> list[str]:
    lines = [f"`.venv/bin/python -m bench.ingest_hosts` ({machine()}; every ingest host on this one machine, "
             f"CPU over {seconds:g} s):", "",
             "| camera processes | managers | cameras | cameras per host | CPU per camera (% of a core), per host "
             "| failover p50 / p95 / max (s) | frames read | duplicate frames |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for f in results:
        per_host = ", ".join(f"{h} {v:.2f}" for h, v in sorted(f.cpu_per_camera.items()))
        failover = "—"
        if f.failovers:
            ordered = sorted(f.failovers)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            failover = f"{statistics.median(ordered):.1f} / {p95:.1f} / {ordered[-1]:.1f} ({len(ordered)} cameras)"
        lines.append(f"| {f.start} | {f.managers} | {f.cameras} | {f.cameras / f.managers:g} | {per_host} "
                     f"| {failover} | {f.frames} | {f.duplicates} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", default="8,16")
    parser.add_argument("--managers", default="1,2")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--starts", default="forked,cold", help="forked (the fork server), cold (the old path)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    server = ClipServer()
    results = []
    try:
        for managers in (int(m) for m in args.managers.split(",")):
            for cameras in (int(c) for c in args.cameras.split(",")):
                for start in args.starts.split(","):
                    results.append(run(server, start, managers, cameras, args.seconds, args.kills))
                    print("\n".join(report(results[-1:], args.seconds)[-1:]), flush=True)
    finally:
        server.stop()
    lines = report(results, args.seconds)
    print("\n".join(lines))
    if not args.no_write:
        write_section("ingest_hosts", ["## Ingest hosts: cameras shared out, failover", "", *lines])


if __name__ == "__main__":
    main()
