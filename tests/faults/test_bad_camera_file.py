"""A bad edit of the camera file cannot strand the system: refused at once while it runs (log,
/api/system), the cameras in force unchanged; a good edit applied within seconds; and every process
killed and started again with the bad file comes back on the last good cameras."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from shared.status import CameraState
from tests.support import ServiceRun, camera_status, wait_until, web, write_camera_file
from tests.support.processes import processes

REFUSED = "camera file is refused"
CAMERAS = [{"id": i, "name": f"Camera {i}", "source": "demo:", "fps": 5, "record": {"mode": "off"}} for i in (1, 2, 3)]


def _streaming(rdb: redis.Redis) -> bool:
    return all((s := camera_status(rdb, c)) is not None and s.state is CameraState.STREAMING for c in (1, 2, 3))


def _system(base: str) -> dict[str, Any]:
    answer: dict[str, Any] = web.get(f"{base}/api/system").json()
    return answer


def _gateway_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    found = processes("gateway", "--port", port)
    assert found, f"no gateway process on port {port}"
    return found[0]


def _names(base: str) -> list[str]:
    return [c["name"] for c in web.get(f"{base}/api/cameras").json()]


def test_a_bad_camera_file_edit_is_refused_at_once_and_cannot_strand_a_restart(
    ingest: Callable[..., ServiceRun], gateway: Callable[..., str], bridge: Callable[..., ServiceRun],
    recorder: Callable[..., ServiceRun], rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    cameras = write_camera_file(tmp_path, CAMERAS)
    base = gateway(cameras, expected_error=REFUSED)
    runs = [ingest(cameras), bridge(cameras), recorder(cameras)]
    wait_until(lambda: _streaming(rdb), 60.0, what="three cameras streaming")

    # A bad edit while running: refused at once, said on the API, the cameras as they were.
    good = cameras.read_text()
    cameras.write_text(good.replace("fps: 5", "fps: fast", 1))
    system = wait_until(lambda: (s := _system(base))["cameraFile"] and s, 5.0, what="the refusal on /api/system")
    assert "cameras[0].fps" in system["cameraFile"]["problem"], system["cameraFile"]
    assert _names(base) == ["Camera 1", "Camera 2", "Camera 3"] and _streaming(rdb)
    assert REFUSED in Path(tmp_path / "gateway-0.log").read_text()

    # A good edit is applied within seconds, and clears the problem.
    cameras.write_text(good.replace("Camera 2", "Driveway"))
    wait_until(lambda: _names(base) == ["Camera 1", "Driveway", "Camera 3"], 10.0, what="the good edit applied")
    wait_until(lambda: _system(base)["cameraFile"] is None, 5.0, what="the problem cleared")

    # Bad again, then every process killed and started with it: all come back on the last good cameras.
    cameras.write_text(good.replace("id: 3", "id: 99999999999", 1))
    wait_until(lambda: _system(base)["cameraFile"], 5.0, what="the second refusal")
    for run in runs:
        run.process.send_signal(signal.SIGKILL)
        run.process.wait(5)
    os.kill(_gateway_pid(base), signal.SIGKILL)
    rdb.flushall()  # nothing of the old processes' state left to mistake for the new ones'
    base = gateway(cameras, expected_error=REFUSED)
    restarted = [ingest(cameras), bridge(cameras), recorder(cameras)]
    wait_until(lambda: _streaming(rdb), 60.0, what="the three cameras again, from the database")
    assert _names(base) == ["Camera 1", "Driveway", "Camera 3"]
    system = wait_until(lambda: (s := _system(base))["bridge"]["alive"] and s, 30.0, what="the bridge alive")
    assert "cameras[2].id" in system["cameraFile"]["problem"], system["cameraFile"]
    assert all(run.process.poll() is None for run in restarted), "every process runs"
    assert "last good cameras" in restarted[0].log_text()
