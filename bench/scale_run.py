"""One camstream system for the scale benchmark: its own Redis and data folder, N cameras reading
the clip server, every process started as the run command does, a few cameras watched; and the
figures sampled from it (CPU by process kind from /proc, counters from the status records)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import cast

import redis

from bench.common import cpu_seconds, gateway_env
from shared import keys
from shared.analysis import AnalysisConfig
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.messages import MessageError
from shared.status import CameraStatus, WorkerStatus
from tests.support import ROOT, ServiceRun, gateway_answers, wait_until, web, write_camera_file
from tests.support.processes import processes

QUIET = {"CAMSTREAM_LOG_LEVEL": "WARNING", "CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}
ERROR_LINE = re.compile(r"\bERROR\b|Traceback")
KILLED_LINE = re.compile(r"ignored SIGTERM")


@dataclass
class Sample:
    at: float
    cpu: dict[str, float]  # process kind: CPU seconds so far
    units: dict[int, int]  # camera: main-stream access units relayed so far
    recorded: dict[int, int]  # camera: bytes recorded so far
    analysed: dict[int, int]  # camera: frames analysed so far (over every worker)


class CamstreamRun:
    def __init__(self, folder: Path, url: Callable[[str], str], cameras: int, workers: int, watched: int,
                 server_pid: int) -> None:  # fmt: skip
        self.folder = folder
        self.count = cameras
        self.analysis_fps = AnalysisConfig().fps
        self._server_pid = server_pid
        self._cameras = [{"id": n, "name": f"camera {n}", "source": url("main"), "detect_source": url("sub"),
                          "record": {"mode": "continuous"}} for n in range(1, cameras + 1)]  # fmt: skip
        self._workers = workers
        self._watched = watched
        self._runs: list[ServiceRun] = []
        self._viewers: list[subprocess.Popen[bytes]] = []
        self._redis = EmbeddedRedis()
        self._client: redis.Redis | None = None
        self.stop_s = 0.0  # SIGTERM to every process gone, once stopped
        self.exit_codes: list[int] = []

    def __enter__(self) -> CamstreamRun:
        self._redis.start()
        self._client = redis.Redis.from_url(self._redis.url)
        camera_file = write_camera_file(self.folder, self._cameras)
        env = {**QUIET, **gateway_env(self.folder), "CAMSTREAM_RECORDINGS_DIR": str(self.folder / "recordings")}
        port = free_port()
        self._runs.append(ServiceRun("gateway", self._redis.url, camera_file, self.folder / "gateway.log",
                                     "--host", "127.0.0.1", "--port", str(port), env=env))  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: gateway_answers(base), 60.0, what="the gateway")
        for module in ("ingest", "recorder", *["analyzer"] * self._workers):
            log = self.folder / f"{module}-{len(self._runs)}.log"
            self._runs.append(ServiceRun(module, self._redis.url, camera_file, log, env=env))
        viewer_env = {**os.environ, "CAMSTREAM_API_TOKEN": web.token(base), "CAMSTREAM_VIEWER_UNDECODED": "1"}
        self._viewers = [subprocess.Popen([sys.executable, "-m", "tests.support.viewer", base, str(n), "1"], cwd=ROOT,
                                          stdout=subprocess.DEVNULL, env=viewer_env)
                         for n in range(1, min(self._watched, self.count) + 1)]  # fmt: skip
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        for viewer in self._viewers:
            viewer.kill()
            viewer.wait()
        stopping = time.monotonic()
        self.exit_codes = [run.stop(20.0) for run in reversed(self._runs)]
        self.stop_s = time.monotonic() - stopping
        if self._client is not None:
            self._client.close()
        self._redis.stop()

    def wait_streaming(self) -> None:
        def streaming() -> bool:
            units = self._statuses()
            return len(units) == self.count and all(s.units_relayed for s in units.values())

        wait_until(streaming, 120.0, interval_s=1.0, what=f"{self.count} cameras streaming")

    def _statuses(self) -> dict[int, CameraStatus]:
        assert self._client is not None
        found = {}
        for n, raw in enumerate(self._client.mget([keys.camera_status(n) for n in range(1, self.count + 1)]), 1):
            if raw:
                with contextlib.suppress(MessageError):
                    found[n] = CameraStatus.decode(raw)
        return found

    def _analysed(self) -> dict[int, int]:
        assert self._client is not None
        totals: dict[int, int] = {}
        for worker in cast(list[bytes], self._client.zrange(keys.analyzer_workers(), 0, -1)):
            raw = self._client.get(keys.analyzer_status(worker.decode()))
            if raw:
                for camera, counters in WorkerStatus.decode(raw).cameras.items():
                    totals[int(camera)] = totals.get(int(camera), 0) + counters.frames_analysed
        return totals

    def _cpu(self) -> dict[str, float]:
        def total(pids: list[int]) -> float:
            seconds = 0.0
            for pid in pids:
                with contextlib.suppress(OSError):  # gone between listing and reading
                    seconds += cpu_seconds(pid)
            return seconds

        data = self.folder / "data"
        by_module = {kind: total(processes(kind, data=data)) for kind in ("ingest", "analyzer", "recorder", "gateway")}
        assert self._redis.pid is not None
        return {**by_module, "redis": total([self._redis.pid]), "rtsp server": total([self._server_pid]),
                "viewers": total([v.pid for v in self._viewers])}  # fmt: skip

    def sample(self) -> Sample:
        statuses = self._statuses()
        return Sample(
            time.monotonic(), self._cpu(), {n: s.units_relayed or 0 for n, s in statuses.items()},
            {n: s.recorded_bytes or 0 for n, s in statuses.items()}, self._analysed(),
        )  # fmt: skip

    def killed(self) -> int:
        """Camera processes the ingest manager had to kill at the stop (they ignored SIGTERM)."""
        return sum(len(KILLED_LINE.findall(run.log_text())) for run in self._runs)

    def errors(self) -> list[str]:
        return [f"{run.log_path.name}: {line}" for run in self._runs for line in run.log_text().splitlines()
                if ERROR_LINE.search(line)]  # fmt: skip
