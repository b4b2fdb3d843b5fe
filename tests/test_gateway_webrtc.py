"""Live video over WebRTC: a real aiortc viewer, through each signalling flow, from RTSP to screen."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis
import websockets
from aiortc import RTCSessionDescription

from tests.support import (
    DATA,
    ROOT,
    RtspServer,
    ServiceRun,
    read_detections,
    wait_until,
    wait_until_async,
    web,
    write_camera_file,
)
from tests.support.clock import painted_ms, read_reference
from tests.support.peer import LOOPBACK, Viewer

pytestmark = pytest.mark.rtsp


def assert_live_video(viewer: Viewer) -> None:
    frames = viewer.frames[:30]
    assert all(f.shape == (360, 640) for f in frames), frames[0].shape
    assert all(f.std() > 10 for f in frames), ("flat frames", [round(float(f.std()), 1) for f in frames])
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 1, "the picture does not change"


@pytest.fixture
def live_camera(rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun],
                gateway: Callable[..., str], tmp_path: Path) -> str:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "live", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")
    return base


async def test_client_offer_in_one_round_trip(live_camera: str) -> None:
    viewer = Viewer()
    async with web.client(live_camera) as http:
        reply = await http.post(
            "/api/webrtc/offer", json={"camera_id": 1, "sdp": await viewer.offer(), "type": "offer"}
        )
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        assert re.fullmatch(r"1_\d+", answer["session_id"]) and answer["type"] == "answer"
        await viewer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await viewer.wait_frames(30)
        assert_live_video(viewer)
        status = (await http.get("/api/streams/status")).json()
        assert [s["sessionId"] for s in status["sessions"]] == [answer["session_id"]]
        await viewer.close()
        await _no_sessions(http)


async def test_server_offer_over_the_websocket(live_camera: str) -> None:
    viewer = Viewer()
    async with web.client(live_camera) as http:
        created = (await http.post("/api/webrtc/stream/1")).json()
        assert len(created["token"]) >= 24
        url = live_camera.replace("http", "ws") + created["signaling_url"]
        async with websockets.connect(url, additional_headers=web.headers(live_camera)) as signalling:
            await signalling.send(json.dumps({"type": "request-offer"}))
            offer = json.loads(await asyncio.wait_for(signalling.recv(), 10))
            assert offer["type"] == "offer"
            await signalling.send(json.dumps({"type": "answer", "sdp": await viewer.answer(offer["sdp"])}))
            await viewer.wait_frames(30)
            assert_live_video(viewer)
            await signalling.send(json.dumps({"type": "bye"}))
        await viewer.close()
        await _no_sessions(http)


async def test_server_offer_over_http(live_camera: str) -> None:
    viewer = Viewer()
    async with web.client(live_camera) as http:
        created = (await http.post("/api/webrtc/stream/1", json={"server_offer": True})).json()
        answer_sdp = await viewer.answer(created["offer"]["sdp"])
        body = {"session_id": created["session_id"], "token": created["token"], "sdp": answer_sdp, "type": "answer"}
        reply = await http.post("/api/webrtc/answer", json=body)
        assert reply.status_code == 200, reply.text
        await viewer.wait_frames(30)
        assert_live_video(viewer)
        await viewer.close()
        await _no_sessions(http)


async def test_four_overlay_viewers_share_one_encoder(live_camera: str) -> None:
    viewers = [Viewer() for _ in range(4)]
    async with web.client(live_camera) as http:
        for viewer in viewers:
            offer = {"camera_id": 1, "sdp": await viewer.offer(), "type": "offer", "overlay": True}
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
            await viewer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        for viewer in viewers:
            await viewer.wait_frames(20)
        before, started = _encoded(await http.get("/metrics"), "true"), time.monotonic()
        received_before = sum(len(v.frames) for v in viewers)
        await asyncio.sleep(4.0)
        elapsed = time.monotonic() - started
        encoded = (_encoded(await http.get("/metrics"), "true") - before) / elapsed
        received = (sum(len(v.frames) for v in viewers) - received_before) / elapsed
        for viewer in viewers:
            assert viewer.fps(3.0) >= 12, f"a viewer got {viewer.fps(3.0):.1f} fps"
        # One encode per camera frame (15 fps), not one per viewer (60 fps).
        assert 10 <= encoded <= 18, f"{encoded:.1f} encodes a second for {received:.1f} frames received a second"
        for viewer in viewers:
            await viewer.close()
        await _no_sessions(http)


async def test_viewers_get_the_cameras_own_stream_after_a_first_transcoded_picture(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], gateway: Callable[..., str],
    tmp_path: Path,
) -> None:  # fmt: skip
    main = rtsp_server(size="640x360", fps=15)
    detect = rtsp_server(size="320x180", fps=15)  # the transcoder sends the detect stream's size: told apart
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "two streams", "source": main.url(), "detect_source": detect.url(), "fps": 15},
    ])  # fmt: skip
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")
    viewers = [Viewer() for _ in range(2)]
    async with web.client(base) as http:
        for viewer in viewers:
            offer = {"camera_id": 1, "sdp": await viewer.offer(), "type": "offer"}
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
            await viewer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        for viewer in viewers:
            await viewer.wait_frames(60)
            sizes = [f.shape for f in viewer.frames]
            assert sizes[0] == (180, 320), "the first picture comes from the transcoder, at once"
            assert sizes[-1] == (360, 640) and sizes.index((360, 640)) < 45, "then the camera's own, at its keyframe"
        modes = [s["mode"] for s in (await http.get("/api/streams/status")).json()["sessions"]]
        assert modes == ["passthrough", "passthrough"]
        before = _encoded(await http.get("/metrics"))
        await asyncio.sleep(2.0)
        assert _encoded(await http.get("/metrics")) == before  # nobody left on the transcoder: it stopped
        assert all(v.fps(1.5) >= 12 for v in viewers)
        for viewer in viewers:
            await viewer.close()
        await _no_sessions(http)


def _encoded(metrics: httpx.Response, overlay: str = "false") -> float:
    pattern = rf'camstream_webrtc_frames_encoded_total\{{camera="1",overlay="{overlay}"\}} ([0-9.]+)'
    match = re.search(pattern, metrics.text)
    assert match, metrics.text
    return float(match[1])


async def _no_sessions(http: httpx.AsyncClient, timeout_s: float = 20.0) -> None:
    async def none_left() -> bool:
        return not (await http.get("/api/streams/status")).json()["sessions"]

    await wait_until_async(none_left, timeout_s, interval_s=0.2, what="every session to be freed")


@pytest.fixture
def quick_gateway(gateway: Callable[..., str], tmp_path: Path) -> str:
    """A gateway whose camera has no ingest: enough for signalling, and quick to give up on viewers."""
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "idle", "source": "demo:"}])
    return gateway(cameras, env={**LOOPBACK, "CAMSTREAM_WEBRTC_NEGOTIATION_TIMEOUT_S": "3"})


async def test_bad_signalling_gets_clear_answers_and_frees_everything(quick_gateway: str) -> None:
    base = quick_gateway
    ws_base = base.replace("http", "ws")
    async with web.client(base) as http:
        spare = Viewer()
        good_offer = await spare.offer()
        await spare.close()
        checks = [
            ("/api/webrtc/offer", {"camera_id": 9, "sdp": good_offer, "type": "offer"}, 404, "no camera with id 9"),
            ("/api/webrtc/offer", {"camera_id": 1, "sdp": "v=0 nonsense", "type": "offer"}, 400, "malformed SDP"),
            ("/api/webrtc/offer", {"camera_id": 1, "sdp": good_offer, "type": "answer"}, 422, "offer"),
            ("/api/webrtc/offer", {"camera_id": 1, "type": "offer"}, 422, "sdp"),
            (
                "/api/webrtc/answer",
                {"session_id": "1_999", "token": "x", "sdp": "v=0", "type": "answer"},
                404,
                "no session",
            ),
            ("/api/webrtc/candidate", {"session_id": "1_999", "token": "x", "candidate": {}}, 404, "no session"),
            ("/api/webrtc/stream/9", {}, 404, "no camera"),
            ("/api/webrtc/stream/1", {"colour": "red"}, 422, "colour"),
        ]
        for path, body, status, reason in checks:
            reply = await http.post(path, json=body)
            assert (reply.status_code, reason in reply.text) == (status, True), (path, reply.status_code, reply.text)
        broken = await http.post(
            "/api/webrtc/offer", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 422 and "JSON" in broken.text

        created = (await http.post("/api/webrtc/stream/1", json={"server_offer": True})).json()
        sid, token = created["session_id"], created["token"]
        wrong = await http.post(
            "/api/webrtc/answer", json={"session_id": sid, "token": "guess", "sdp": "v=0", "type": "answer"}
        )
        assert wrong.status_code == 403 and "token" in wrong.text
        bad_answer = await http.post(
            "/api/webrtc/answer", json={"session_id": sid, "token": token, "sdp": "x", "type": "answer"}
        )
        assert bad_answer.status_code == 400 and "malformed SDP" in bad_answer.text
        junk = {"session_id": sid, "token": token, "candidate": {"candidate": "candidate:zz"}}
        bad_candidate = await http.post("/api/webrtc/candidate", json=junk)
        assert bad_candidate.status_code == 400 and "candidate" in bad_candidate.text

        for url, code in [(f"{ws_base}/ws/webrtc/{sid}?token=guess", 4403), (f"{ws_base}/ws/webrtc/{sid}", 4403),
                          (f"{ws_base}/ws/webrtc/1_999?token=x", 4404)]:  # fmt: skip
            async with websockets.connect(url, additional_headers=web.headers(base)) as refused:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await refused.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code

        other = (await http.post("/api/webrtc/stream/1")).json()
        signalling_url = ws_base + other["signaling_url"]
        async with websockets.connect(signalling_url, additional_headers=web.headers(base)) as signalling:
            nonsense = [
                ("{oops", "not JSON"),
                ('{"type": "dance"}', "unknown message type"),
                ('{"type": "offer", "sdp": 5}', "sdp must be a string"),
                ("[1]", '"type"'),
            ]
            for message, reason in nonsense:
                await signalling.send(message)
                reply = json.loads(await asyncio.wait_for(signalling.recv(), 5))
                assert reply["type"] == "error" and reason in reply["message"], reply
        # The WebSocket went away: its session is gone at once. The other viewer never answered:
        # its session goes when negotiation times out (3 s here).
        await _no_sessions(http, timeout_s=10.0)
        assert (await http.get("/healthz")).status_code == 200


def test_a_viewer_that_vanishes_mid_stream_is_freed(live_camera: str) -> None:
    command = [sys.executable, "-m", "tests.support.viewer", live_camera, "1"]
    env = {**os.environ, "CAMSTREAM_API_TOKEN": web.token(live_camera)}
    viewer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert viewer.stdout is not None
    try:
        while not (line := viewer.stdout.readline()).startswith("FRAMES 20"):
            assert line, "the viewer ended before 20 frames"
    finally:
        viewer.kill()  # no goodbye: the process is simply gone
        viewer.wait()
        viewer.stdout.close()
    assert web.get(f"{live_camera}/api/streams/status").json()["sessions"]
    wait_until(lambda: not web.get(f"{live_camera}/api/streams/status").json()["sessions"], 20.0,
               interval_s=0.5, what="the vanished viewer's session to be freed")  # fmt: skip


def test_overlay_draws_the_analyzers_boxes(
    ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun], gateway: Callable[..., str],
    rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    clip = DATA / "TUD-Campus.mp4"
    if not clip.exists():
        pytest.skip(f"test footage missing: {clip}")
    cameras = write_camera_file(tmp_path, [{"id": 2, "name": "campus", "source": str(clip), "fps": 10}])
    ingest(cameras)
    analyzer(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: any(d.objects for d in read_detections(rdb, 2)), 30.0, what="people detected")

    async def watch(overlay: bool) -> list[np.ndarray]:
        viewer = Viewer(colour=True)
        async with web.client(base) as http:
            offer = {"camera_id": 2, "sdp": await viewer.offer(), "type": "offer", "overlay": overlay}
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
        await viewer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await viewer.wait_frames(25)
        await viewer.close()
        return viewer.frames[5:25]

    def green(frames: list[np.ndarray]) -> float:
        return float(np.mean([((f[..., 1] > 180) & (f[..., 0] < 110) & (f[..., 2] < 110)).sum() for f in frames]))

    plain, drawn = asyncio.run(watch(False)), asyncio.run(watch(True))
    assert green(drawn) > 200 + 5 * green(plain), (green(drawn), green(plain))


async def test_passthrough_frames_are_bit_identical_to_the_cameras(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], gateway: Callable[..., str],
    tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="640x360", fps=15, clock=True)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "clock", "source": server.url(), "fps": 15}])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")
    reference: dict[int, np.ndarray] = {}
    stop = threading.Event()
    reader = threading.Thread(target=read_reference, args=(server.url(), stop, reference), daemon=True)
    reader.start()
    viewer = Viewer()
    try:
        async with web.client(base) as http:
            offer = {"camera_id": 1, "sdp": await viewer.offer(), "type": "offer"}
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
            await viewer.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

            async def switched() -> bool:
                return [s["mode"] for s in (await http.get("/api/streams/status")).json()["sessions"]] == [
                    "passthrough"
                ]

            await wait_until_async(switched, 10.0, interval_s=0.1, what="the switch to passthrough")
            start = len(viewer.frames) + 2  # frames from the camera's own stream on
            await viewer.wait_frames(start + 45)
            frames = viewer.frames[start : start + 45]
            await viewer.close()
            await _no_sessions(http)
    finally:
        stop.set()
        reader.join(5)
    matched = [(f, reference.get(painted_ms(f))) for f in frames]
    compared = [(f, r) for f, r in matched if r is not None]
    assert len(compared) >= 40, f"only {len(compared)} of 45 frames found in the reference"
    assert all(np.array_equal(f, r) for f, r in compared), "a passthrough frame differs from the camera's"


async def test_whep_pulls_a_camera_and_delete_ends_it(live_camera: str) -> None:
    viewer = Viewer()
    async with web.client(live_camera) as http:
        offer = await viewer.offer()
        wrong = await http.post("/api/whep/1", content=offer, headers={"Content-Type": "application/json"})
        assert wrong.status_code == 415
        async with httpx.AsyncClient(base_url=live_camera) as anonymous:
            refused = await anonymous.post("/api/whep/1", content=offer, headers={"Content-Type": "application/sdp"})
            assert refused.status_code == 401
        reply = await http.post("/api/whep/1", content=offer, headers={"Content-Type": "application/sdp"})
        assert reply.status_code == 201 and reply.headers["content-type"].startswith("application/sdp")
        location = reply.headers["location"]
        assert re.fullmatch(r"/api/whep/1/1_\d+\?token=[\w-]{24,}", location), location
        await viewer.pc.setRemoteDescription(RTCSessionDescription(reply.text, "answer"))
        await viewer.wait_frames(30)
        assert_live_video(viewer)
        assert (await http.delete(location.split("?")[0] + "?token=guess")).status_code == 403
        assert (await http.delete(location)).status_code == 204
        await _no_sessions(http, 5.0)
        assert (await http.delete(location)).status_code == 404
        await viewer.close()
