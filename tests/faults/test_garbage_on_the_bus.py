"""Garbage on every Redis stream, channel and key the processes read (frames, the camera's own
access units, audio, detections, the events stream and channels, status records), with ingest,
an analyzer worker, the bridge (a webhook), the gateway and a WebRTC viewer running: each bad
entry is skipped (and counted where there is a counter), no process dies or logs a traceback,
the API answers, and events keep coming to the history and the webhook."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from shared import keys
from shared.detections import FrameDetections
from shared.messages import MessageError
from tests.support import (
    DATA,
    ROOT,
    ServiceRun,
    read_frames,
    wait_until,
    web,
    worker_statuses,
    write_camera_file,
)
from tests.support.receiver import Receiver

Start = Callable[..., ServiceRun]
CLIP = DATA / "TUD-Campus.mp4"
GARBAGE = [b"", b"\x00\xff\xfe garbage", b"{not json", b"\x93\x01\x02", os.urandom(300)]


def inject(client: redis.Redis) -> int:
    """Bad entries on everything read, for both cameras; how many."""
    count = 0
    for camera in (1, 2):
        streams = {
            keys.frame_stream(camera): keys.FRAME_FIELD, keys.packet_stream(camera): keys.PACKET_FIELD,
            keys.audio_stream(camera): keys.PACKET_FIELD, keys.detections_stream(camera): keys.DETECTIONS_FIELD,
        }  # fmt: skip
        for stream, field in streams.items():
            for junk in GARBAGE:
                client.xadd(stream, {field: junk})
                count += 1
            client.xadd(stream, {"unexpected": b"field"})
            count += 1
        for junk in GARBAGE:
            client.publish(keys.camera_events_channel(camera), junk)
            count += 1
    for junk in GARBAGE:
        client.xadd(keys.EVENTS_STREAM, {keys.EVENT_FIELD: junk})
        client.publish(keys.EVENTS_CHANNEL, junk)
        count += 2
    client.xadd(keys.EVENTS_STREAM, {"unexpected": b"field"})
    # Status records: ingest and the worker write theirs again within a second.
    client.set(keys.camera_status(1), b"\xff garbage")
    for host in client.zrange(keys.ingest_hosts(), 0, -1):
        client.set(keys.ingest_host(host.decode()), b"{not json")
    client.set(keys.bridge_status(), b"[1, 2")
    for worker in worker_statuses(client):
        client.set(keys.analyzer_status(worker), b"\x00")
    return count + 4


def flood_frames(client: redis.Redis, seconds: float) -> int:
    """Garbage frames, so often that it is nearly always the newest entry a worker finds (it
    reads only the newest frame, so a lone bad entry is usually passed over); how many."""
    count = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        for camera in (1, 2):
            client.xadd(keys.frame_stream(camera), {keys.FRAME_FIELD: GARBAGE[count % len(GARBAGE)]})
            count += 1
        time.sleep(0.01)
    return count


def _last_analysed(client: redis.Redis, camera: int) -> float:
    """When the camera's newest well-formed detections were made (our garbage is skipped)."""
    for _id, fields in client.xrevrange(keys.detections_stream(camera), count=50):
        try:
            return FrameDetections.from_entry(fields).analysed_at_s
        except MessageError:
            continue
    return 0.0


def _statuses(client: redis.Redis) -> dict[str, Any]:
    try:
        return worker_statuses(client)
    except MessageError:  # still our garbage: the worker writes its own within a second
        return {}


@pytest.mark.timeout(180)
def test_garbage_on_every_stream_and_channel_is_skipped_and_nothing_stops(
    ingest: Start, analyzer: Start, bridge: Start, gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path
) -> None:
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "campus", "source": str(CLIP), "fps": 10, "record": {"mode": "off"}},
        {"id": 2, "name": "demo", "source": "demo:front?size=640x360", "fps": 10, "record": {"mode": "off"}},
    ])  # fmt: skip
    inbox = Receiver()
    viewer: subprocess.Popen[bytes] | None = None
    try:
        base = gateway(cameras)
        web.post(f"{base}/api/webhooks", json={"name": "inbox", "url": inbox.url}).raise_for_status()
        processes = [ingest(cameras), analyzer(cameras), bridge(cameras)]
        wait_until(inbox.delivered, 60.0, interval_s=0.5, what="a first event at the webhook")
        env = {**os.environ, "CAMSTREAM_API_TOKEN": web.token(base)}
        viewer = subprocess.Popen([sys.executable, "-m", "tests.support.viewer", base, "2"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: web.get(f"{base}/api/streams/status").json()["sessions"], 30.0, what="the viewer")

        injected_at = time.time()
        injected = inject(rdb)
        injected += flood_frames(rdb, 2.0)
        time.sleep(1.0)
        injected += inject(rdb)  # twice: once while each reader is mid-stream
        delivered = len(inbox.delivered())

        assert all(p.process.poll() is None for p in processes), "a process died of garbage"
        for path in ("/api/cameras", "/api/streams/status", "/api/system", "/api/events"):
            reply = web.get(f"{base}{path}", timeout=10)
            assert reply.status_code == 200, (path, reply.status_code, reply.text[:300])
        for camera in (1, 2):
            wait_until(lambda c=camera: read_frames(rdb, c, 0.5), 10.0, what=f"camera {camera}'s frames")
            wait_until(lambda c=camera: _last_analysed(rdb, c) > injected_at, 10.0,
                       what=f"camera {camera} analysed after the garbage")  # fmt: skip
        # Ready again once the processes have written their status records over ours.
        wait_until(lambda: web.get(f"{base}/readyz").status_code == 200, 10.0, what="ready again")
        statuses = wait_until(lambda: _statuses(rdb), 10.0, what="the worker's status again")
        bad = sum(c.frames_bad for s in statuses.values() for c in s.cameras.values())
        assert bad >= 1, "the bad frames were not counted"
        wait_until(lambda: len(inbox.delivered()) > delivered, 60.0, interval_s=0.5,
                   what="events at the webhook after the garbage")  # fmt: skip
        assert web.get(f"{base}/api/streams/status").json()["sessions"], "the viewer's session ended"
        for run in processes:
            tracebacks = [line for line in run.log_text().splitlines() if "Traceback" in line]
            assert not tracebacks, f"{run.log_path.name}: {tracebacks[:3]}"
        print(f"{injected} bad entries; {bad} bad frames counted by the worker")
    finally:
        if viewer is not None:
            viewer.kill()
            viewer.wait()
        inbox.close()
