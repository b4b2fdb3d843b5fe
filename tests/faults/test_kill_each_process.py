"""kill -9 of each process kind, one at a time, under the run command's own supervisor set-up
(four demo cameras, two analyzer workers): everything comes back by itself, and the test says
how long it took. "Back" is what a user checks: every camera's frames fresh, every camera analysed
again, the API answering, and supervisor showing every program RUNNING.

What each kill costs the user is in docs/reliability.md; the recovery times printed here are the
figures there."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.support import camera_pids, camera_status, pid_alive, read_detections, wait_until
from tests.support.processes import camera_processes
from tests.support.run_command import Banner, Supervisor, start

CAMERAS = (1, 2, 3, 4)
PROGRAMS = ("ingest", "analyzer:analyzer-0", "analyzer:analyzer-1", "recorder", "bridge", "gateway", "redis")
LIMIT_S = 30.0  # the slowest part: a worker's camera resumes after its lease (5 s) on the other worker


class System:
    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMSTREAM_")}
        env.update(CAMSTREAM_GATEWAY_PORT=str(self.port), CAMSTREAM_RUN_DIR=str(tmp_path / "run"),
                   CAMSTREAM_DATA_DIR=str(tmp_path / "data"), CAMSTREAM_ANALYZER_WORKERS="2",
                   CAMSTREAM_ADMIN_PASSWORD="faults-Passw0rd-admin")  # fmt: skip
        self.process, banner = start(env)
        self.redis_url = Banner.read(banner).redis_url
        self.supervisor = Supervisor(tmp_path / "run")
        self.client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        self.base = f"http://127.0.0.1:{self.port}"
        self.data = tmp_path / "data"

    def healthy_since(self, since_s: float) -> bool:
        """Every program RUNNING, each camera's newest frame and detections after `since_s`, the API up."""
        try:
            if self.supervisor.status().count("RUNNING") != len(PROGRAMS):
                return False
            for camera in CAMERAS:
                status = camera_status(self.client, camera)
                if status is None or status.state != "streaming" or (status.last_frame_at_s or 0) < since_s:
                    return False
                detections = read_detections(self.client, camera)
                if not detections or detections[-1].analysed_at_s < since_s:
                    return False
            reply = httpx.post(f"{self.base}/api/auth/login", timeout=2,
                               json={"username": "admin", "password": "faults-Passw0rd-admin"})  # fmt: skip
            return reply.status_code == 200
        except (redis.RedisError, httpx.HTTPError):
            return False

    def close(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _free_port() -> int:
    from shared.embedded_redis import free_port  # noqa: PLC0415

    return free_port()


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    running = System(tmp_path)
    try:
        wait_until(lambda: running.healthy_since(0.0), 90.0, interval_s=0.5, what="the whole system up")
        yield running
    finally:
        running.close()


def _camera_process(system: System) -> int:
    return (camera_pids(system.client, [1]) or [0])[0]


@pytest.mark.timeout(600)
def test_each_process_killed_comes_back_by_itself(system: System) -> None:
    victims: dict[str, Callable[[], int]] = {
        "a camera process": lambda: _camera_process(system),
        "the ingest manager": lambda: system.supervisor.pid("ingest"),
        "an analyzer worker": lambda: system.supervisor.pid("analyzer:analyzer-0"),
        "the recorder": lambda: system.supervisor.pid("recorder"),
        "the bridge": lambda: system.supervisor.pid("bridge"),
        "the gateway": lambda: system.supervisor.pid("gateway"),
    }
    recovery: dict[str, float] = {}
    for name, pid_of in victims.items():
        pid = pid_of()
        assert pid, f"no pid for {name}"
        cameras_before = set(camera_pids(system.client, list(CAMERAS)) or [])
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        wait_until(lambda p=pid: not pid_alive(p), 5.0, what=f"{name} gone")
        wait_until(lambda at=killed_at: system.healthy_since(at), LIMIT_S, interval_s=0.25,
                   what=f"the system back after killing {name}")  # fmt: skip
        recovery[name] = time.time() - killed_at
        if name == "the ingest manager":  # its camera processes run on, adopted by the next: none twice
            assert set(camera_pids(system.client, list(CAMERAS)) or []) == cameras_before, "the same processes"
            assert all(pid_alive(p) for p in cameras_before)
            assert len(camera_processes(system.data)) == len(CAMERAS), "one camera process a camera, no more"
        print(f"{name}: back after {recovery[name]:.1f} s", flush=True)
    print("\nrecovery after kill -9: " + ", ".join(f"{name} {s:.1f} s" for name, s in recovery.items()))
