"""A WebRTC viewer for tests: a real aiortc peer that only receives, and keeps what it decodes."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from gateway.webrtc.compat import use_host_addresses
from tests.support import wait_until_async

# Where the gateway gathers its WebRTC candidates in tests: loopback only.
LOOPBACK = {"CAMSTREAM_WEBRTC_HOSTS": "127.0.0.1"}


class Viewer:
    """An aiortc peer that only receives, and keeps what it decodes."""

    def __init__(self, colour: bool = False) -> None:
        use_host_addresses(["127.0.0.1"])  # aioice leaves loopback out by default
        self.colour = colour
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self._reader: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def on_track(track: object) -> None:
            self._reader = asyncio.create_task(self._read(track))

    async def _read(self, track: object) -> None:
        try:
            while True:
                frame = await track.recv()  # type: ignore[attr-defined]
                self.frames.append(frame.to_ndarray(format="bgr24" if self.colour else "gray"))
                self.times.append(time.monotonic())
        except MediaStreamError:
            return

    async def offer(self) -> str:
        self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def answer(self, offer_sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def wait_frames(self, count: int, timeout_s: float = 20.0) -> None:
        await wait_until_async(lambda: len(self.frames) >= count, timeout_s, what=f"{count} frames")

    def fps(self, last_s: float) -> float:
        recent = [t for t in self.times if t >= self.times[-1] - last_s]
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    async def close(self) -> None:
        await self.pc.close()
        if self._reader:
            self._reader.cancel()
