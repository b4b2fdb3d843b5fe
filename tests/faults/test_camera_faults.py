"""Cameras misbehaving, against real ingest processes: one that freezes mid-stream (its TCP
connection open, no data) is reported within 5 s and comes back when it thaws; one that answers
garbage gets a clear error and a backoff; neither touches the camera beside it; one that changes
resolution and codec mid-stream goes on in the new ones, and so does a viewer watching it."""

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
from aiortc import RTCSessionDescription

from shared.status import CameraState
from tests.support import (
    RtspServer,
    ServiceRun,
    camera_status,
    read_frames,
    wait_until,
    wait_until_async,
    web,
    write_camera_file,
)
from tests.support.peer import LOOPBACK, Viewer

pytestmark = pytest.mark.rtsp

StartRtsp = Callable[..., RtspServer]
StartIngest = Callable[..., ServiceRun]


def camera(camera_id: int, url: str) -> dict[str, object]:
    return {"id": camera_id, "name": f"Camera {camera_id}", "source": url, "fps": 15}


def full_rate(rdb: redis.Redis, camera_id: int) -> float:
    frames = read_frames(rdb, camera_id, 4.0)
    return (len(frames) - 1) / (frames[-1].captured_at_s - frames[0].captured_at_s) if len(frames) > 1 else 0.0


def sizes(rdb: redis.Redis) -> set[tuple[int, int]]:
    """The sizes of camera 1's frames in the last half second."""
    return {(f.width, f.height) for f in read_frames(rdb, 1, 0.5)}


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


async def test_a_camera_that_changes_resolution_and_codec_mid_stream_goes_on_in_the_new_one(
    rtsp_server: StartRtsp, ingest: StartIngest, gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path
) -> None:
    """Ingest streams the new size and codec, and a viewer watching throughout keeps its picture:
    on the camera's own stream while it is H.264, back on the transcoder while it is H.265 (which
    a browser cannot take), and on the camera's own again when it returns to H.264."""
    first = rtsp_server(size="640x360", fps=15, codec="h264")
    cameras = write_camera_file(tmp_path, [camera(1, first.url())])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: sizes(rdb) == {(640, 360)}, 15.0)
    viewer = Viewer()
    servers: list[RtspServer] = []
    try:
        async with web.client(base) as http:

            async def mode() -> str:
                sessions = (await http.get("/api/streams/status")).json()["sessions"]
                return str(sessions[0]["mode"]) if sessions else "none"

            async def showing(size: tuple[int, int], want: str) -> bool:
                return await mode() == want and len(viewer.frames) > 5 and viewer.frames[-1].shape == size

            offer = {"camera_id": 1, "sdp": await viewer.offer(), "type": "offer"}
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
            await viewer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            await wait_until_async(lambda: showing((360, 640), "passthrough"), 15.0, what="the camera's own stream")
            # The camera reboots with other settings on the same address (a firmware update, a new profile).
            port = first.port
            for size, codec, mode_then in (("320x180", "h265", "transcoded"), ("640x360", "h264", "passthrough")):
                changed = RtspServer(size=size, fps=15, codec=codec)
                changed.port = port
                (servers[-1] if servers else first).kill()
                changed.start()
                servers.append(changed)
                switched_at = time.time()
                width, height = (int(n) for n in size.split("x"))
                # Asynchronously: the viewer goes on receiving meanwhile.
                await wait_until_async(lambda w=width, h=height: sizes(rdb) == {(w, h)}, 30.0, what=f"frames of {size}")
                status = await wait_until_async(lambda w=width: (s := camera_status(rdb, 1)) and s.width == w and s,
                                                10.0, what="the new size in the camera's status")  # fmt: skip
                assert status.state is CameraState.STREAMING and status.height == height
                streaming_s = time.time() - switched_at
                await wait_until_async(lambda h=height, w=width, m=mode_then: showing((h, w), m), 10.0,
                                       what=f"the viewer on {mode_then} {size}")  # fmt: skip
                shown_s = time.time() - switched_at
                await viewer.wait_frames(len(viewer.frames) + 30)  # and it goes on
                print(f"{codec} {size}: streaming {streaming_s:.1f} s after the switch, "
                      f"the viewer on {mode_then} {shown_s:.1f} s after")  # fmt: skip
            await viewer.close()
    finally:
        for server in servers:
            server.stop()
