"""The ingest processes with sources that need no RTSP server: demo scenes and video files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from shared import keys
from shared.status import CameraState
from tests.support import (
    DATA,
    ROOT,
    ServiceRun,
    camera_pids,
    camera_status,
    pid_alive,
    read_frames,
    wait_until,
    write_camera_file,
)
from tests.support.processes import command_words, processes

StartIngest = Callable[..., ServiceRun]


# How long a camera may take to its first frame here: the manager's and the camera's processes
# start, connect and wait for a keyframe (about 3 s on a quiet 2-core machine, bench.ingest_start;
# more on a loaded CI one). Not what is tested: the waits return at the first frame.
START_S = 15.0


def test_malformed_camera_file_exits_with_the_bad_field(ingest: StartIngest, tmp_path: Path) -> None:
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "ok", "source": "demo:"},
        {"id": 2, "name": "bad", "source": "rtsp://admin:Hunter2pw@cam.example/s", "fps": -3},
    ])  # fmt: skip
    run = ingest(cameras)
    assert run.process.wait(20) != 0
    log = run.log_text()
    assert "cameras[1].fps" in log
    assert "Hunter2pw" not in log


def test_passwords_with_reserved_characters_never_show(ingest: StartIngest, rdb: redis.Redis, tmp_path: Path) -> None:
    """Seen leaking before: `#` and `/` ended the masked part early. A raw `#`, `/` or `?` is now
    refused at start (every parser would take the rest of the password for a path); written
    percent-encoded, as the docs say, they work and never show."""
    raw = {"PW_HASH": "Hh#LEAKH", "PW_SLASH": "Ab/LEAKS", "PW_MIXED": "q?@:LEAKQ#"}
    cameras = write_camera_file(tmp_path, [
        {"id": i, "name": name, "source": f"rtsp://admin:${{{name}}}@127.0.0.1:9/Streaming/Channels/101"}
        for i, name in enumerate(raw, start=1)
    ])  # fmt: skip
    env = {**os.environ, **raw, "CAMSTREAM_CAMERAS_FILE": str(cameras)}
    refused = subprocess.run([sys.executable, "-m", "ingest", "--validate-config"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 2 and "percent-encode" in refused.stderr, refused.stderr
    assert "LEAK" not in refused.stdout + refused.stderr
    passwords = {name: quote(value, safe="") for name, value in raw.items()}
    env = {**os.environ, **passwords, "CAMSTREAM_CAMERAS_FILE": str(cameras)}
    checked = subprocess.run([sys.executable, "-m", "ingest", "--validate-config"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    assert checked.stdout.count("rtsp://***@127.0.0.1:9/Streaming/Channels/101") == 3, checked.stdout
    run = ingest(cameras, env=passwords)

    def failures() -> list[bytes] | None:
        raw = [rdb.get(keys.camera_status(c)) for c in (1, 2, 3)]
        reported = all(r and camera_status(rdb, c).last_error for c, r in zip((1, 2, 3), raw, strict=True))
        return [r for r in raw if r] if reported else None

    statuses = wait_until(failures, 20.0, what="every camera to report its failure")
    shown = checked.stdout + checked.stderr + run.log_text() + b"".join(statuses).decode()
    assert "LEAK" not in shown
    assert "rtsp://***@127.0.0.1:9/Streaming/Channels/101" in run.log_text()


def test_file_and_demo_sources_stream(ingest: StartIngest, rdb: redis.Redis, tmp_path: Path) -> None:
    clip = DATA / "TUD-Campus.mp4"
    if not clip.exists():
        pytest.skip(f"test footage missing: {clip}")
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "file", "source": str(clip), "fps": 25},
        {"id": 2, "name": "demo", "source": "demo:yard?size=320x240&fps=10", "fps": 10},
    ])  # fmt: skip
    ingest(cameras)
    wait_until(lambda: read_frames(rdb, 1, 0.2, start_id="0"), START_S, what="frames of the file camera")
    # 71 frames at 25 fps: four seconds cover the end of the clip and its loop.
    file_frames = read_frames(rdb, 1, 4.0)
    demo_frames = read_frames(rdb, 2, 0.5, start_id="0")
    assert {(f.width, f.height) for f in file_frames} == {(640, 480)}
    assert len(file_frames) >= 80, f"the clip should loop: {len(file_frames)} frames in 4 s"
    assert demo_frames and {(f.width, f.height) for f in demo_frames} == {(320, 240)}
    assert camera_status(rdb, 1).state is CameraState.STREAMING


def test_manager_restarts_a_camera_process_that_dies(ingest: StartIngest, rdb: redis.Redis, tmp_path: Path) -> None:
    run = ingest(write_camera_file(tmp_path, [{"id": 1, "name": "demo", "source": "demo:?size=320x240"}]))
    first_pid = wait_until(lambda: camera_pids(rdb, [1]), 10.0)[0]
    os.kill(first_pid, signal.SIGKILL)
    second_pid = wait_until(
        lambda: (p := camera_pids(rdb, [1])) and p[0] != first_pid and p[0], 10.0, what="a new camera process"
    )
    assert pid_alive(second_pid)
    wait_until(lambda: read_frames(rdb, 1, 0.3), 5.0, what="frames from the restarted camera")
    assert "restarting in" in run.log_text()


def test_camera_processes_are_forked_warm_and_started_cold_without_the_fork_server(
    ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    """Camera processes come from the manager's fork server (ingest.forks): each is the manager's
    child, titled as the command it stands for, and streams; the server killed, a camera that dies
    is started cold and streams again; a clean stop leaves nothing running, the server included."""
    run = ingest(write_camera_file(tmp_path, [{"id": i, "name": f"demo {i}", "source": "demo:?size=320x240"}
                                              for i in (1, 2)]))  # fmt: skip
    pids = wait_until(lambda: camera_pids(rdb, [1, 2]), START_S, what="two camera processes")
    for camera, pid in zip((1, 2), pids, strict=True):
        assert command_words(pid) == [b"python", b"-m", b"ingest", b"--camera", str(camera).encode()]
        assert _parent(pid) == run.pid
        wait_until(lambda c=camera: read_frames(rdb, c, 0.3), START_S, what=f"frames from camera {camera}")
    assert "process forked" in run.log_text()
    (server,) = [p for p in processes("ingest", "--fork-server") if _parent(p) == run.pid]

    os.kill(server, signal.SIGKILL)
    os.kill(pids[0], signal.SIGKILL)
    again = wait_until(lambda: (p := camera_pids(rdb, [1])) and p[0] != pids[0] and p[0], START_S,
                       what="camera 1 started again")  # fmt: skip
    wait_until(lambda: read_frames(rdb, 1, 0.3), START_S, what="frames from camera 1 started cold")
    assert b"--camera-on-stdin" in command_words(again)  # cold: the real command line
    assert "fork server failed" in run.log_text() and "exited with code -9" in run.log_text()

    assert run.stop() == 0
    assert not [p for p in (*pids, again) if pid_alive(p)]
    assert not processes("ingest", "--fork-server", data=Path(os.environ["CAMSTREAM_DATA_DIR"]))


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_two_managers_under_one_host_name_are_told_apart_and_said(ingest: StartIngest, tmp_path: Path) -> None:
    """A copied configuration gives two hosts one CAMSTREAM_INGEST_HOST: each would take the other's leases
    for its own. Never silent: both say so."""
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "demo", "source": "demo:?size=320x240"}])
    runs = [ingest(cameras, env={"CAMSTREAM_INGEST_HOST": "same-name"}) for _ in range(2)]
    wait_until(lambda: any("runs under this host's name 'same-name'" in r.log_text() for r in runs), 15.0,
               interval_s=0.5, what="the clash said")  # fmt: skip


def test_check_reports_health_from_the_heartbeat(ingest: StartIngest, redis_url: str, tmp_path: Path) -> None:
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "demo", "source": "demo:?size=320x240"}])
    env = {**os.environ, "CAMSTREAM_REDIS_URL": redis_url, "CAMSTREAM_CAMERAS_FILE": str(cameras)}
    check = [sys.executable, "-m", "ingest", "--check"]
    down = subprocess.run(check, env=env, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)
    assert down.returncode == 1 and "no ingest manager heartbeat" in down.stdout
    assert "camera 1 demo: offline" in down.stdout
    ingest(cameras)

    def healthy() -> bool:
        return subprocess.run(check, env=env, cwd=ROOT, capture_output=True, timeout=30, check=False).returncode == 0

    wait_until(healthy, 15.0, interval_s=0.5, what="--check to pass")


def test_ten_bit_h265_file_streams(ingest: StartIngest, rdb: redis.Redis, tmp_path: Path) -> None:
    """H.265 Main 10, as newer cameras send it: decoded, converted to 8-bit 4:2:0, encoded."""
    import av  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    clip = tmp_path / "main10.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx265", rate=15, options={"x265-params": "log-level=none"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p10le"
        for i in range(30):
            image = np.full((240, 320, 3), (i * 8) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    ingest(write_camera_file(tmp_path, [{"id": 1, "name": "hevc", "source": str(clip), "fps": 15}]))
    frames = wait_until(lambda: read_frames(rdb, 1, 0.5, start_id="0"), 10.0, what="frames of the H.265 file")
    assert {(f.width, f.height) for f in frames} == {(320, 240)}
