"""Revocation reaches open streams (issue 25 finding 5): a revoked token's, a logged-out session's
and a deleted user's event socket, MJPEG stream and WebRTC session end within a second, on real
ingest and gateway processes, with a real aiortc viewer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from aiortc import RTCSessionDescription

from tests.support import RtspServer, ServiceRun, wait_until, web, write_camera_file
from tests.support.peer import LOOPBACK, Viewer

pytestmark = pytest.mark.rtsp
VERA = {"username": "vera", "password": "viewer-Passw0rd"}
ENDED_WITHIN_S = 1.0


class _Streams:
    """An event socket, an MJPEG stream and a WebRTC session, all opened with one credential."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers
        self.ended: dict[str, float] = {}
        self.viewer = Viewer()

    async def open(self, stack: AsyncExitStack) -> None:
        ws_url = self.base.replace("http://", "ws://") + "/ws/events"
        socket = await stack.enter_async_context(
            websockets.connect(ws_url, additional_headers=self.headers | {"Origin": self.base}))  # fmt: skip
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=self.base, headers=self.headers, timeout=30))
        mjpeg = await stack.enter_async_context(http.stream("GET", "/api/cameras/1/mjpeg?fps=5"))
        assert mjpeg.status_code == 200
        offer = {"camera_id": 1, "sdp": await self.viewer.offer(), "type": "offer"}
        answer = await http.post("/api/webrtc/offer", json=offer, headers={"Origin": self.base})
        assert answer.status_code == 200, answer.text
        self.session = answer.json()["session_id"]
        await self.viewer.pc.setRemoteDescription(RTCSessionDescription(answer.json()["sdp"], "answer"))
        await self.viewer.wait_frames(5)
        stack.push_async_callback(self.viewer.close)
        self._tasks = [asyncio.create_task(self._socket_until_closed(socket)),
                       asyncio.create_task(self._mjpeg_until_ended(mjpeg))]  # fmt: skip
        self.close_code: int | None = None

    async def _socket_until_closed(self, socket: Any) -> None:
        try:
            async for _ in socket:
                pass
        except websockets.ConnectionClosed:
            pass
        self.close_code = socket.close_code
        self.ended["events"] = time.monotonic()

    async def _mjpeg_until_ended(self, mjpeg: httpx.Response) -> None:
        async for _ in _chunks(mjpeg):
            pass
        self.ended["mjpeg"] = time.monotonic()

    async def all_ended(self, admin: httpx.AsyncClient, since: float) -> dict[str, float]:
        deadline = since + 10
        while time.monotonic() < deadline:
            sessions = (await admin.get("/api/streams/status")).json()["sessions"]
            if "webrtc" not in self.ended and all(s["sessionId"] != self.session for s in sessions):
                self.ended["webrtc"] = time.monotonic()
            if len(self.ended) == 3:
                break
            await asyncio.sleep(0.05)
        return {name: round(at - since, 2) for name, at in self.ended.items()}


async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.HTTPError:
        return


async def test_revoked_tokens_and_deleted_users_lose_their_open_streams_within_a_second(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], gateway: Callable[..., str],
    tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x240", fps=10)
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "live", "source": server.url(), "fps": 10}])
    ingest(cameras)
    base = gateway(cameras, env=LOOPBACK)
    wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 15.0, what="camera 1 streaming")
    async with web.client(base) as admin, AsyncExitStack() as stack:
        assert (await admin.post("/api/users", json={**VERA, "role": "viewer"})).status_code == 201
        vera = await stack.enter_async_context(httpx.AsyncClient(base_url=base, headers={"Origin": base}))
        assert (await vera.post("/api/auth/login", json=VERA)).status_code == 200
        made = (await vera.post("/api/auth/tokens", json={"name": "wall screen"})).json()

        by_token = _Streams(base, {"Authorization": f"Bearer {made['token']}"})
        await by_token.open(stack)
        by_session = _Streams(base, {"Cookie": f"camstream_session={vera.cookies['camstream_session']}"})
        await by_session.open(stack)

        revoked_at = time.monotonic()
        assert (await vera.delete(f"/api/auth/tokens/{made['id']}")).status_code == 204
        ended = await by_token.all_ended(admin, revoked_at)
        assert set(ended) == {"events", "mjpeg", "webrtc"} and max(ended.values()) <= ENDED_WITHIN_S, ended
        assert by_token.close_code == 4401
        assert "webrtc" not in by_session.ended and "events" not in by_session.ended  # the session's go on

        deleted_at = time.monotonic()
        assert (await admin.delete("/api/users/vera")).status_code == 204
        ended = await by_session.all_ended(admin, deleted_at)
        assert set(ended) == {"events", "mjpeg", "webrtc"} and max(ended.values()) <= ENDED_WITHIN_S, ended
