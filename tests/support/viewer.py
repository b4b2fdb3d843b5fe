"""WebRTC viewers in a process of their own, for tests that kill it and benchmarks that load the gateway.

    python -m tests.support.viewer http://127.0.0.1:8000 CAMERA_ID [COUNT]

Prints `FRAMES n` (frames received by all its viewers together) as frames come. The API token
comes from the environment, CAMSTREAM_API_TOKEN (never the command line, which `ps` shows);
CAMSTREAM_VIEWER_TRANSCODED=1 asks for the shared transcoder instead of the camera's own stream;
CAMSTREAM_VIEWER_UNDECODED=1 counts the frames that arrive whole without decoding them (the scale
benchmark's viewers, which must not take the machine's CPU from what they measure).
"""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from gateway.webrtc.compat import use_host_addresses


def count_undecoded(loop: object, input_q: queue.Queue[object], output_q: object, error: threading.Event) -> None:
    """aiortc's decoder thread, counting each whole frame instead of decoding it."""
    frames = 0
    while input_q.get() is not None:
        frames += 1
        if frames % 15 == 0:
            print(f"FRAMES {frames}", flush=True)


async def main(base: str, camera_id: int, count: int) -> None:
    use_host_addresses(["127.0.0.1"])
    if os.environ.get("CAMSTREAM_VIEWER_UNDECODED") == "1":
        import aiortc.rtcrtpreceiver  # noqa: PLC0415

        aiortc.rtcrtpreceiver.decoder_worker = count_undecoded  # type: ignore[assignment]
    total = 0
    readers: set[asyncio.Future[None]] = set()
    peers = []

    def on_track(track: object) -> None:
        async def read() -> None:
            nonlocal total
            while True:
                await track.recv()  # type: ignore[attr-defined]
                total += 1
                print(f"FRAMES {total}", flush=True)

        readers.add(asyncio.ensure_future(read()))

    token = os.environ["CAMSTREAM_API_TOKEN"]
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(count):
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTransceiver("video", direction="recvonly")
            pc.on("track", on_track)
            await pc.setLocalDescription(await pc.createOffer())
            offer = {"camera_id": camera_id, "sdp": pc.localDescription.sdp, "type": "offer",
                     "overlay": os.environ.get("CAMSTREAM_VIEWER_TRANSCODED") == "1"}  # fmt: skip
            answer = (await http.post("/api/webrtc/offer", json=offer)).json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            peers.append(pc)
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1))
