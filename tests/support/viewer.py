"""A WebRTC viewer in a process of its own, for tests that kill it: prints FRAMES n as frames come.

python -m tests.support.viewer http://127.0.0.1:8000 CAMERA_ID
"""

from __future__ import annotations

import asyncio
import sys

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from gateway.webrtc.sessions import use_host_addresses


async def main(base: str, camera_id: int) -> None:
    use_host_addresses(["127.0.0.1"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    done = asyncio.Event()
    readers: set[asyncio.Future[None]] = set()

    @pc.on("track")
    def on_track(track: object) -> None:
        async def read() -> None:
            count = 0
            while True:
                await track.recv()  # type: ignore[attr-defined]
                count += 1
                print(f"FRAMES {count}", flush=True)

        readers.add(asyncio.ensure_future(read()))

    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=base) as http:
        offer = {"camera_id": camera_id, "sdp": pc.localDescription.sdp, "type": "offer"}
        answer = (await http.post("/api/webrtc/offer", json=offer)).json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    await done.wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
