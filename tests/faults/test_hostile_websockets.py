"""Hostile WebSocket clients of a real gateway process: malformed JSON, binary frames, a message
over the size limit and a flood, on the events socket and on a WebRTC signalling socket. Each is
answered (an error message) or closed with a code; the gateway stays healthy and serves everyone
else (the fixture checks its log holds no error)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from gateway.http.limits import MAX_WEBSOCKET_MESSAGE
from tests.support import web, write_camera_file

FLOOD = 5_000


async def _closed_with(socket: websockets.ClientConnection, timeout_s: float = 10.0) -> int | None:
    """Read until the gateway closes the socket; its close code."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                await socket.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def _abuse(base: str) -> None:
    ws_base = base.replace("http", "ws")
    headers = web.headers(base) | {"Origin": base}
    async with httpx.AsyncClient(base_url=base, headers=web.headers(base), timeout=10) as http:
        session = (await http.post("/api/webrtc/stream/1")).json()
        signalling = ws_base + session["signaling_url"]
        events = f"{ws_base}/ws/events"

        # Garbage text and binary frames: the events socket ignores them, signalling answers each.
        async with websockets.connect(events, additional_headers=headers) as socket:
            for message in ("{oops", b"\x00\xff" * 100, "[]" * 1000):
                await socket.send(message)
            await socket.ping()
        async with websockets.connect(signalling, additional_headers=headers) as socket:
            await socket.send(b"\x00\x01binary")
            reply = await asyncio.wait_for(socket.recv(), 5)
            assert "error" in str(reply), reply

        # Over the size limit: closed with 1009 (message too big), on both.
        for url in (events, ws_base + (await http.post("/api/webrtc/stream/1")).json()["signaling_url"]):
            async with websockets.connect(url, additional_headers=headers, max_size=None) as socket:
                await socket.send("x" * (MAX_WEBSOCKET_MESSAGE + 1))
                assert await _closed_with(socket) == 1009

        # A flood of messages the client never reads the answers of: the gateway keeps up or
        # closes; either way it is still healthy and serving.
        flooded = ws_base + (await http.post("/api/webrtc/stream/1")).json()["signaling_url"]
        async with websockets.connect(flooded, additional_headers=headers) as socket:
            try:
                for _ in range(FLOOD):
                    await socket.send('{"type": "dance"}')
            except websockets.ConnectionClosed:
                pass
        async with websockets.connect(events, additional_headers=headers) as socket:
            for _ in range(FLOOD):
                await socket.send("{}")
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/api/cameras")).status_code == 200


@pytest.mark.timeout(120)
def test_malformed_binary_oversized_and_flooding_websocket_clients_are_answered_or_closed(
    gateway: Callable[..., str], tmp_path: Path
) -> None:
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "front", "source": "demo:front"}])
    base = gateway(cameras)
    asyncio.run(_abuse(base))
