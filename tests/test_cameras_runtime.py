"""Cameras managed while everything runs: added, changed and deleted through the API, applied to
that camera alone by the real ingest and gateway processes; its password sealed at rest."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis
from aiortc import RTCSessionDescription

from tests.support import RtspServer, ServiceRun, camera_pids, pid_alive, read_frames, wait_until, web
from tests.support import write_camera_file as camera_file
from tests.support.peer import LOOPBACK, Viewer

pytestmark = pytest.mark.rtsp
PASSWORD = "s3cret-Camera-Pw"


def test_a_camera_added_changed_and_deleted_while_the_others_stream_on(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun],
    gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path, _data_dir: Path,
) -> None:  # fmt: skip
    steady, guarded = rtsp_server(size="320x180", fps=15), rtsp_server(size="320x180", fps=15,
                                                                        login=("basic", "cam", PASSWORD))  # fmt: skip
    light = {"person": False, "face": False, "fps": 2}  # motion only: the analyzer's share without a model
    cameras = camera_file(tmp_path, [{"id": 1, "name": "steady", "source": steady.url(), "fps": 15,
                                      "analysis": light}])  # fmt: skip
    env = {**LOOPBACK, "CAMSTREAM_FRAME_STREAM_S": "30"}
    ingest(cameras, env=env)
    analyzer(cameras, env=env)
    base = gateway(cameras, env=env)
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")
    first_id = rdb.xinfo_stream("camstream:camera:1:frames")["last-generated-id"]

    # Add: frames within 5 s, through the password it was given (so it was stored and opened again).
    added = web.post(f"{base}/api/cameras", json={"name": "added", "source": guarded.url(f"cam:{PASSWORD}"),
                                                   "fps": 10, "analysis": light})  # fmt: skip
    assert added.status_code == 201, added.text
    camera = added.json()
    new_id = camera["id"]
    assert new_id == 2 and camera["source"].startswith("rtsp://***@127.0.0.1:") and PASSWORD not in added.text
    assert web.get(f"{base}/api/cameras/{new_id}").json()["name"] == "added"  # the answer came once applied
    wait_until(lambda: read_frames(rdb, new_id, 0.2, start_id="0"), 5.0, what="the new camera's frames within 5 s")
    pids = wait_until(lambda: camera_pids(rdb, [1, new_id]), 5.0)
    assert web.get(f"{base}/api/cameras/{new_id}/config").json()["source"] == camera["source"]
    wait_until(lambda: web.get(f"{base}/api/cameras/{new_id}").json()["analyzer"], 10.0, what="an analyzer owns it")

    # A viewer plays it (its own event loop, in a thread: it must keep answering while the test waits).
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    async def watch() -> Viewer:
        viewer = Viewer()
        async with web.client(base) as http:
            offer = {"camera_id": new_id, "sdp": await viewer.offer(), "type": "offer"}
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
            await viewer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            await viewer.wait_frames(10)
        return viewer

    viewer = asyncio.run_coroutine_threadsafe(watch(), loop).result(30)

    # Change its fps, sending the masked URL back: only its process restarts, the password is kept.
    reply = httpx.patch(f"{base}/api/cameras/{new_id}", json={"fps": 5, "source": camera["source"]},
                        headers=web.headers(base))  # fmt: skip
    assert reply.status_code == 200 and reply.json()["fps"] == 5, reply.text
    assert web.get(f"{base}/api/cameras/{new_id}").json()["targetFps"] == 5
    wait_until(lambda: (p := camera_pids(rdb, [1, new_id])) and p[1] != pids[1] and p, 10.0, what="a restart")
    assert camera_pids(rdb, [1])[0] == pids[0], "the other camera's process was left alone"  # type: ignore[index]
    wait_until(lambda: read_frames(rdb, new_id, 1.0), 10.0, what="frames again, with the kept password")

    # Delete it: its process ends, the viewer's session closes.
    assert httpx.delete(f"{base}/api/cameras/{new_id}", headers=web.headers(base)).status_code == 204
    assert web.get(f"{base}/api/cameras/{new_id}").status_code == 404
    wait_until(lambda: not pid_alive(pids[1]) and web.get(f"{base}/api/cameras/{new_id}").status_code == 404, 10.0,
               what="the camera gone")  # fmt: skip
    wait_until(lambda: not web.get(f"{base}/api/streams/status").json()["sessions"], 10.0, what="session closed")
    asyncio.run_coroutine_threadsafe(viewer.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    runner.join(5)
    loop.close()

    # Meanwhile camera 1 never missed a frame, and no log or file holds the password.
    frames = [m.seq for m in read_frames(rdb, 1, 0.3, start_id=first_id)]
    assert frames and frames == list(range(frames[0], frames[0] + len(frames))), "camera 1 lost frames"
    assert all(PASSWORD not in log.read_text(errors="replace") for log in tmp_path.glob("*.log"))
    stored = b"".join(p.read_bytes() for p in _data_dir.glob("camstream.db*"))
    assert PASSWORD.encode() not in stored, "the password is in the database in plain text"
    assert pid_alive(pids[0]), "camera 1's process never stopped"
