"""Cameras misbehaving, against real ingest processes: one that freezes mid-stream (its TCP
connection open, no data) is reported within 5 s and comes back when it thaws; one that answers
garbage gets a clear error and a backoff; neither touches the camera beside it."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from shared.status import CameraState
from tests.support import RtspServer, ServiceRun, camera_status, read_frames, wait_until, write_camera_file

pytestmark = pytest.mark.rtsp

StartRtsp = Callable[..., RtspServer]
StartIngest = Callable[..., ServiceRun]


def camera(camera_id: int, url: str) -> dict[str, object]:
    return {"id": camera_id, "name": f"Camera {camera_id}", "source": url, "fps": 15}


def full_rate(rdb: redis.Redis, camera_id: int) -> float:
    frames = read_frames(rdb, camera_id, 4.0)
    return (len(frames) - 1) / (frames[-1].captured_at_s - frames[0].captured_at_s) if len(frames) > 1 else 0.0


class GarbageServer:
    """Accepts TCP connections on loopback and answers every request with bytes that are no RTSP."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                try:
                    connection.settimeout(2.0)
                    connection.recv(4096)
                    connection.sendall(b"\x00\xffHELLO not rtsp at all\r\n\r\n" + os.urandom(512))
                except OSError:
                    pass

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def garbage() -> Iterator[GarbageServer]:
    server = GarbageServer()
    yield server
    server.close()


def test_a_camera_that_freezes_is_reported_within_5_s_and_comes_back(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    frozen, steady = rtsp_server(fps=15), rtsp_server(fps=15)
    ingest(write_camera_file(tmp_path, [camera(1, frozen.url()), camera(2, steady.url())]))
    wait_until(lambda: read_frames(rdb, 1, 0.2, start_id="0") and read_frames(rdb, 2, 0.2, start_id="0"), 15.0)

    os.kill(frozen.pid, signal.SIGSTOP)  # the connection stays open; nothing more comes
    stopped_at = time.time()
    try:
        status = wait_until(
            lambda: (s := camera_status(rdb, 1)) and s.state is not CameraState.STREAMING and s, 5.0, interval_s=0.1,
            what="the frozen camera reported",
        )  # fmt: skip
        reported_s = time.time() - stopped_at
        assert status.last_error, status
        assert full_rate(rdb, 2) >= 12.0, "the camera beside it slowed down"
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    thawed_at = time.time()
    wait_until(lambda: (s := camera_status(rdb, 1)) and s.state is CameraState.STREAMING, 30.0, interval_s=0.2,
               what="the camera streaming again")  # fmt: skip
    print(f"frozen camera reported after {reported_s:.1f} s; streaming again {time.time() - thawed_at:.1f} s "
          f"after it thawed")  # fmt: skip


def test_a_server_answering_garbage_gets_a_clear_error_and_a_backoff(
    rtsp_server: StartRtsp, ingest: StartIngest, garbage: GarbageServer, rdb: redis.Redis, tmp_path: Path
) -> None:
    steady = rtsp_server(fps=15)
    ingest(write_camera_file(tmp_path, [camera(1, f"rtsp://127.0.0.1:{garbage.port}/cam"), camera(2, steady.url())]))
    wait_until(lambda: read_frames(rdb, 2, 0.2, start_id="0"), 15.0, what="the good camera's frames")
    status = wait_until(lambda: (s := camera_status(rdb, 1)) and s.last_error and s, 15.0, what="an error")
    assert status.state in (CameraState.RECONNECTING, CameraState.CONNECTING, CameraState.FAILED), status
    assert status.frames_sent == 0
    assert full_rate(rdb, 2) >= 12.0, "the camera beside it slowed down"
    time.sleep(6.0)
    # Backoff (1, 2, 4 s ...): a handful of attempts in ~10 s, not a storm.
    assert garbage.connections <= 6, f"{garbage.connections} connections in about 10 s"
    print(f"garbage server: {camera_status(rdb, 1).last_error!r}, {garbage.connections} attempts")


def test_a_camera_that_changes_resolution_and_codec_mid_stream_goes_on_in_the_new_one(
    rtsp_server: StartRtsp, ingest: StartIngest, rdb: redis.Redis, tmp_path: Path
) -> None:
    first = rtsp_server(size="640x360", fps=15, codec="h264")
    ingest(write_camera_file(tmp_path, [camera(1, first.url())]))
    wait_until(lambda: {(f.width, f.height) for f in read_frames(rdb, 1, 0.5)} == {(640, 360)}, 15.0)
    # The camera reboots with other settings on the same address (a firmware update, a new profile).
    changed = RtspServer(size="320x180", fps=15, codec="h265")
    changed.port = first.port
    first.kill()
    changed.start()
    try:
        switched_at = time.time()
        wait_until(lambda: {(f.width, f.height) for f in read_frames(rdb, 1, 0.5)} == {(320, 180)}, 30.0,
                   what="frames of the new size")  # fmt: skip
        status = wait_until(lambda: (s := camera_status(rdb, 1)) and s.width == 320 and s, 10.0)
        assert status.state is CameraState.STREAMING and status.height == 180
        print(f"new resolution and codec streaming {time.time() - switched_at:.1f} s after the switch")
    finally:
        changed.stop()
