"""A camera whose RTSP server is killed and restarted every 3 s for 60 s (a flapping link, a
camera rebooting in a loop): ingest reconnects as its backoff allows, not in a storm; the camera
beside it keeps its full rate throughout; ingest's memory stays flat; and once the flapping stops
the camera streams again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from shared.status import CameraState
from tests.support import RtspServer, ServiceRun, camera_status, read_frames, rss_mb, wait_until, write_camera_file

pytestmark = pytest.mark.rtsp

FLAP_S = 60.0
PERIOD_S = 3.0


def streaming(client: redis.Redis, camera: int) -> bool:
    status = camera_status(client, camera)
    return status is not None and status.state is CameraState.STREAMING


@pytest.mark.timeout(300)
def test_a_camera_flapping_every_3_s_for_60_s_backs_off_and_leaves_the_others_alone(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], rdb: redis.Redis, tmp_path: Path
) -> None:
    flapping, steady = rtsp_server(fps=15), rtsp_server(fps=15)
    ingest(write_camera_file(tmp_path, [
        {"id": 1, "name": "flapping", "source": flapping.url(), "fps": 15},
        {"id": 2, "name": "steady", "source": steady.url(), "fps": 15},
    ]))  # fmt: skip
    wait_until(lambda: streaming(rdb, 1) and streaming(rdb, 2), 20.0, what="both cameras streaming")
    flapping_pid = camera_status(rdb, 1).pid
    steady_pid = camera_status(rdb, 2).pid
    memory_before = rss_mb(flapping_pid) + rss_mb(steady_pid)
    reconnects_before = camera_status(rdb, 1).reconnects

    started = time.monotonic()
    restarts = 0
    steady_frames, reading_s = 0, 0.0
    while (period := time.monotonic()) - started < FLAP_S:
        flapping.kill()
        read_from = time.monotonic()
        frames = read_frames(rdb, 2, 0.5)  # the steady camera, read while the other is down
        reading_s += time.monotonic() - read_from
        flapping.start()
        restarts += 1
        read_from = time.monotonic()
        frames += read_frames(rdb, 2, max(0.1, period + PERIOD_S - read_from))
        reading_s += time.monotonic() - read_from
        steady_frames += len(frames)
    flapped_s = time.monotonic() - started

    status = camera_status(rdb, 1)
    attempts = status.reconnects - reconnects_before
    assert status.pid == flapping_pid and camera_status(rdb, 2).pid == steady_pid, "a camera process was restarted"
    assert attempts <= restarts + 5, f"{attempts} reconnects for {restarts} restarts: a storm"
    steady_fps = steady_frames / reading_s
    assert steady_fps >= 12.0, f"the steady camera fell to {steady_fps:.1f} fps"
    memory_after = rss_mb(flapping_pid) + rss_mb(steady_pid)
    assert memory_after <= memory_before * 1.05 + 5, f"ingest grew from {memory_before:.0f} to {memory_after:.0f} MB"

    stopped_at = time.monotonic()
    wait_until(lambda: streaming(rdb, 1), 45.0, interval_s=0.2, what="the flapping camera streaming again")
    back_s = time.monotonic() - stopped_at
    print(
        f"{restarts} restarts in {flapped_s:.0f} s: {attempts} reconnects; steady camera {steady_fps:.1f} fps; "
        f"camera processes {memory_before:.0f} -> {memory_after:.0f} MB; streaming again {back_s:.1f} s after"
    )
