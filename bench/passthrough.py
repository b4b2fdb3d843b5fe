"""Passthrough benchmark: what a viewer receives against the camera's own frames, the first
picture with a slow keyframe interval, and ingest's cost for a camera with a detect stream.

    .venv/bin/python -m bench.passthrough [--seconds 10] [--no-write]

1. PSNR (luma) of the frames an aiortc viewer decodes, passthrough and transcoded, against the
   same frames decoded straight from the RTSP source (matched by the clock painted into them);
2. time from opening /player to the first decoded frame in Chromium, the camera keyframing every
   4 s (median of 5);
3. ingest's CPU for a camera with a 1920x1080@15 main stream (relayed, never decoded) and a
   640x360@15 detect stream (decoded, JPEG).
It rewrites the passthrough section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import redis
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.common import cpu_seconds, machine, write_section
from bench.gateway import start_gateway, start_ingest
from gateway.webrtc.compat import use_host_addresses
from shared.embedded_redis import EmbeddedRedis
from tests.support import RtspServer, camera_pids, rtsp_server_missing, wait_until, want_packets, web, write_camera_file
from tests.support.clock import painted_ms, read_reference


async def _received(base: str, transcoded: bool, seconds: float) -> list[np.ndarray]:
    """Luma of the frames an aiortc viewer decodes over `seconds`, from the 30th on."""
    use_host_addresses(["127.0.0.1"])
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frames: list[np.ndarray] = []
    readers: set[asyncio.Future[None]] = set()

    @pc.on("track")
    def on_track(track: object) -> None:
        async def read() -> None:
            while True:
                frame = await track.recv()  # type: ignore[attr-defined]
                frames.append(frame.to_ndarray(format="gray"))

        readers.add(asyncio.ensure_future(read()))

    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with web.client(base) as http:
        offer = {"camera_id": 1, "sdp": pc.localDescription.sdp, "type": "offer", "overlay": transcoded}
        answer = (await http.post("/api/webrtc/offer", json=offer)).json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    await asyncio.sleep(seconds)
    await pc.close()
    for reader in readers:
        reader.cancel()
    return frames[30:]


def psnr(seconds: float) -> dict[str, float]:
    results = {}
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        rtsp = RtspServer(size="1280x720", fps=15, clock=True).start()
        cameras = write_camera_file(Path(folder), [{"id": 1, "name": "clock", "source": rtsp.url(), "fps": 15}])
        ingest = start_ingest(server.url, cameras, Path(folder))
        gateway, base = start_gateway(server.url, cameras, Path(folder))
        reference: dict[int, np.ndarray] = {}
        stop = threading.Event()
        reader = threading.Thread(target=read_reference, args=(rtsp.url(), stop, reference), daemon=True)
        try:
            wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 30.0)
            reader.start()
            for mode in ("passthrough", "transcoded"):
                frames = asyncio.run(_received(base, mode == "transcoded", seconds))
                pairs = [(f, reference[painted_ms(f)]) for f in frames if painted_ms(f) in reference]
                errors = [float(np.mean((f.astype(np.float64) - r) ** 2)) for f, r in pairs if f.shape == r.shape]
                identical = sum(e == 0.0 for e in errors)
                finite = [10 * np.log10(255.0**2 / e) for e in errors if e > 0]
                results[mode] = statistics.median(finite) if finite else float("inf")
                results[f"{mode}_identical"] = identical / max(1, len(errors))
                print(f"{mode}: {len(errors)} frames matched, {identical} bit-identical, "
                      f"PSNR {results[mode]:.1f} dB", flush=True)  # fmt: skip
        finally:
            stop.set()
            gateway.stop()
            ingest.stop()
            rtsp.stop()
    return results


def first_picture(runs: int = 5) -> float:
    """Median seconds from opening /player to the first decoded frame, the camera keyframing every 4 s."""
    from tests.support.browser import browser_page  # noqa: PLC0415

    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        rtsp = RtspServer(size="1280x720", fps=15, gop=60).start()
        cameras = write_camera_file(Path(folder), [{"id": 1, "name": "slow", "source": rtsp.url(), "fps": 15}])
        ingest = start_ingest(server.url, cameras, Path(folder))
        gateway, base = start_gateway(server.url, cameras, Path(folder))
        waits = []
        try:
            wait_until(lambda: web.get(f"{base}/api/cameras/1").json()["fps"], 30.0)
            with browser_page(login=base) as page:
                for _ in range(runs):
                    started = time.monotonic()
                    page.goto(f"{base}/player?camera=1")
                    wait_until(lambda: page.evaluate("window.framesDecoded ? window.framesDecoded() : 0") > 0, 10.0,
                               interval_s=0.02)  # fmt: skip
                    waits.append(time.monotonic() - started)
        finally:
            gateway.stop()
            ingest.stop()
            rtsp.stop()
    print(f"first picture (4 s keyframe interval): {[round(w, 2) for w in waits]} s", flush=True)
    return statistics.median(waits)


def ingest_with_detect_stream(seconds: float) -> float:
    """% of a core of the camera process: 1080p15 main relayed, 640x360@15 detect decoded."""
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        main = RtspServer(size="1920x1080", fps=15).start()
        detect = RtspServer(size="640x360", fps=15).start()
        cameras = write_camera_file(Path(folder), [
            {"id": 1, "name": "two streams", "source": main.url(), "detect_source": detect.url(), "fps": 15},
        ])  # fmt: skip
        ingest = start_ingest(server.url, cameras, Path(folder))
        try:
            client = redis.Redis.from_url(server.url)
            want_packets(client, 1)  # as while someone watches: the relay to Redis counted
            camera = wait_until(lambda: camera_pids(client, [1]), 15.0)[0]
            wait_until(lambda: client.xlen("camstream:camera:1:packets") > 10, 15.0)
            client.close()
            time.sleep(2.0)
            before, started = cpu_seconds(camera), time.monotonic()
            time.sleep(seconds)
            share = 100 * (cpu_seconds(camera) - before) / (time.monotonic() - started)
        finally:
            ingest.stop()
            main.stop()
            detect.stop()
    print(f"ingest, 1080p15 main relayed + 640x360@15 detect decoded: {share:.1f} % of a core", flush=True)
    return share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if reason := rtsp_server_missing():
        print(f"bench.passthrough needs GStreamer's RTSP server: {reason}", file=sys.stderr)
        return 1
    quality = psnr(args.seconds)
    first = first_picture()
    ingest_share = ingest_with_detect_stream(args.seconds)
    if not args.no_write:
        write_section("passthrough", [
            "## Passthrough",
            "",
            f"Command: `.venv/bin/python -m bench.passthrough --seconds {args.seconds:g}`. {machine()}.",
            "",
            "Frames an aiortc viewer decodes against the same frames decoded straight from the RTSP source "
            "(1280x720@15, matched by the clock painted into them; luma):",
            "",
            "| path | bit-identical frames | PSNR of the others (dB, median) |",
            "| --- | --- | --- |",
            *[f"| {mode} | {100 * quality[f'{mode}_identical']:.0f} % | "
              f"{'none differ' if quality[mode] == float('inf') else f'{quality[mode]:.1f}'} |"
              for mode in ("passthrough", "transcoded")],
            "",
            f"First picture in Chromium with the camera keyframing every 4 s: **{first:.2f} s** from opening "
            "`/player` (median of 5; the shared transcoder's keyframe first, the camera's own stream from its "
            "next keyframe). Target: 1 s.",
            "",
            f"Ingest for a camera with a 1920x1080@15 main stream (relayed to the packet stream, never decoded) "
            f"and a 640x360@15 detect stream (decoded, JPEG to the frame stream): **{ingest_share:.1f} % of a "
            "core**. Target: 4 %.",
        ])  # fmt: skip
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
