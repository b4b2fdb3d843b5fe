"""Recording benchmark, per 1080p15 camera: what recording costs the camera's process, the bytes on
disk against the camera's own stream, and how fast clips come.

    .venv/bin/python -m bench.recording [--seconds 70] [--no-write]

A GStreamer camera with a 1920x1080@15 main stream (H.264, what is recorded) and a 640x360@15
detect stream (what ingest decodes), side by side in one run:
1. the camera process's CPU with `record.mode: off`, then `continuous` (the difference is the
   stream copy to disk);
2. bytes of the finished segments over the bytes of the camera's access units in the same time;
3. a 1-minute clip from the API: time to the first byte and to the last (median of 5, each a new
   range, so none is served from the clip cache);
4. an event's clip in Chromium: from setting the `<video>`'s source to its first played frame
   (median of 5).
It rewrites the recording section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

from bench.common import cpu_seconds, gateway_env, machine, write_section
from bench.gateway import QUIET, start_gateway
from shared import keys, recordings
from shared.db.engine import create_engine
from shared.db.events import EventHistory, StoredEvent
from shared.db.url import database_url
from shared.detections import Event, EventPhase, EventType
from shared.embedded_redis import EmbeddedRedis
from shared.packets import PacketMessage
from shared.settings import Settings
from tests.support import (
    RtspServer,
    ServiceRun,
    camera_pids,
    rtsp_server_missing,
    wait_until,
    want_packets,
    web,
    write_camera_file,
)


def _cameras(folder: Path, main: RtspServer, detect: RtspServer, mode: str) -> Path:
    return write_camera_file(folder, [{"id": 1, "name": "1080p", "source": main.url(), "detect_source": detect.url(),
                                       "fps": 15, "record": {"mode": mode}}], name=f"cameras-{mode}.yaml")  # fmt: skip


def _camera_share(client: redis.Redis, seconds: float) -> float:
    want_packets(client, 1)  # read as a passthrough viewer would: the overhead is measured against the stream
    camera = wait_until(lambda: camera_pids(client, [1]), 20.0)[0]
    wait_until(lambda: client.xlen(keys.packet_stream(1)) > 10, 20.0)
    time.sleep(2.0)
    before, started = cpu_seconds(camera), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(camera) - before) / (time.monotonic() - started)


def _overhead(root: Path, client: redis.Redis) -> float:
    """Segment bytes over the access units' bytes of the same time (the finished segments the packet stream covers)."""
    units = [PacketMessage.from_entry(f) for _i, f in client.xrange(keys.packet_stream(1))]
    first = units[0].captured_at_s
    segments = [s for s in recordings.camera_segments(root, 1) if not s.is_part and s.start_ms / 1000 > first + 1]
    on_disk = camera = 0
    for segment in segments:
        assert segment.end_ms is not None
        on_disk += segment.path.stat().st_size
        camera += sum(len(u.data) for u in units if segment.start_ms / 1000 - 0.03 <= u.captured_at_s <
                      segment.end_ms / 1000 - 0.03)  # fmt: skip
    return 100 * (on_disk / camera - 1)


def _clip_times(base: str, start: float) -> tuple[float, float]:
    """Median seconds to the first and to the last byte of a 1-minute clip."""
    firsts, wholes = [], []
    for run in range(5):
        url = f"{base}/api/cameras/1/clip.mp4?start={start + run * 0.01:.3f}&end={start + 60 + run * 0.01:.3f}"
        began = time.monotonic()
        with httpx.stream("GET", url, headers=web.headers(base), timeout=30) as reply:
            reply.raise_for_status()
            chunks = reply.iter_bytes()
            next(chunks)
            firsts.append(time.monotonic() - began)
            for _ in chunks:
                pass
            wholes.append(time.monotonic() - began)
    return statistics.median(firsts), statistics.median(wholes)


async def _store_event(data: Path, start: float) -> str:
    engine = create_engine(database_url(Settings(data_dir=data)))
    try:
        event = Event("bench-event", 1, EventType.PERSON, EventPhase.END, start, start + 8, 0.9, None, 10, False,
                      start + 8)  # fmt: skip
        await EventHistory(engine).store([StoredEvent(event, None)])
    finally:
        await engine.dispose()
    return event.id


def _event_playback(base: str, event_id: str) -> float:
    from tests.support.browser import browser_page  # noqa: PLC0415

    waits = []
    with browser_page(login=base) as page:
        for _ in range(5):
            waits.append(page.evaluate("""async (url) => {
                const video = document.createElement("video");
                video.muted = true;
                document.body.append(video);
                const began = performance.now();
                const played = new Promise((done) => video.requestVideoFrameCallback(() => done()));
                video.src = url;
                await video.play();
                await played;
                const took = performance.now() - began;
                video.remove();
                return took / 1000;
            }""", f"/api/events/{event_id}/clip.mp4?run={len(waits)}"))  # fmt: skip
    return statistics.median(waits)


def run(seconds: float) -> dict[str, float]:
    found: dict[str, float] = {}
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        main, detect = RtspServer(size="1920x1080", fps=15, gop=15).start(), RtspServer(size="640x360", fps=15).start()
        env = {**QUIET, **gateway_env(folder), "CAMSTREAM_PACKET_STREAM_S": "60"}  # the most it keeps
        client = redis.Redis.from_url(server.url)
        try:
            ingest = ServiceRun(
                "ingest", server.url, _cameras(folder, main, detect, "off"), folder / "off.log", env=env
            )
            found["cpu_off"] = _camera_share(client, 20.0)
            ingest.stop()
            client.delete(keys.camera_status(1))
            cameras = _cameras(folder, main, detect, "continuous")
            ingest = ServiceRun("ingest", server.url, cameras, folder / "on.log", env=env)
            recorder = ServiceRun("recorder", server.url, cameras, folder / "recorder.log", env=env)
            found["cpu_on"] = _camera_share(client, seconds)
            root = folder / "data" / "recordings"
            found["overhead"] = _overhead(root, client)
            gateway, base = start_gateway(server.url, cameras, folder)
            ranges = wait_until(lambda: web.get(f"{base}/api/recordings?camera_id=1").json()["recordings"], 20.0)
            start = ranges[0]["start"] + 1
            found["clip_first"], found["clip_whole"] = _clip_times(base, start)
            event_id = asyncio.run(_store_event(folder / "data", start + 20))
            found["event_playback"] = _event_playback(base, event_id)
            for process in (gateway, recorder, ingest):
                process.stop()
        finally:
            client.close()
            main.stop()
            detect.stop()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=70.0, help="how long to record (at least 65: a 1-min clip)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if reason := rtsp_server_missing():
        print(f"bench.recording needs GStreamer's RTSP server: {reason}", file=sys.stderr)
        return 1
    found = run(max(args.seconds, 65.0))
    lines = [
        f"Recording's own cost (camera process, record off -> continuous): {found['cpu_off']:.1f} % -> "
        f"**{found['cpu_on']:.1f} %** of a core, **{found['cpu_on'] - found['cpu_off']:+.1f} %** (target: 1 %)",
        f"Bytes on disk over the camera's own access units: **{found['overhead']:+.2f} %** (target: 2 %)",
        f"A 1-minute clip: first byte **{1000 * found['clip_first']:.0f} ms** (target 300), whole "
        f"**{1000 * found['clip_whole']:.0f} ms** (target 1000), median of 5",
        f"An event's clip in Chromium, source set to first frame played: **{1000 * found['event_playback']:.0f} ms** "
        "(target 1000), median of 5",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("recording", [
            "## Recording",
            "",
            f"Command: `.venv/bin/python -m bench.recording --seconds {args.seconds:g}`. {machine()}.",
            "",
            "One camera: 1920x1080@15 H.264 main stream (recorded by stream copy, never decoded), 640x360@15 "
            "detect stream (decoded for analysis); segments of 10 s.",
            "",
            *[f"- {line}" for line in lines],
        ])  # fmt: skip
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
