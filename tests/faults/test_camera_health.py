"""Camera health as events. A camera that stops delivering frames is an `offline` event everywhere
events go: its RTSP server killed, the event is on the API and at a webhook within its offline
window + 2 s; its return ends it, dated when frames came back; a camera flapping within the window
is one event. A camera whose frames flow but whose footage cannot be written (it sends no keyframe
after its first, so no segment can be cut) is a `recording_gap`, and the coverage API shows it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support import RtspServer, ServiceRun, camera_status, wait_until, web, write_camera_file
from tests.support.receiver import Receiver

pytestmark = pytest.mark.rtsp

OFFLINE_S = 3.0
# Reconnects at once: the camera is back as soon as its server is.
FAST_RECONNECT = {"CAMSTREAM_BACKOFF_INITIAL_S": "0.2", "CAMSTREAM_BACKOFF_MAX_S": "0.5"}


def _offline_events(base: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = web.get(f"{base}/api/events?type=offline").json()["events"]
    return events


def test_a_camera_that_stops_is_offline_everywhere_and_a_flapping_one_is_one_event(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], recorder: Callable[..., ServiceRun],
    bridge: Callable[..., ServiceRun], gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15, gop=15)
    porch = {"id": 1, "name": "Porch", "source": server.url(), "record": {"mode": "off"},
             "health": {"offline_s": OFFLINE_S}}  # fmt: skip
    cameras = write_camera_file(tmp_path, [porch])
    receiver = Receiver()
    try:
        base = gateway(cameras)
        web.post(f"{base}/api/webhooks", json={"name": "health", "url": receiver.url, "types": ["offline"]})
        ingest(cameras, env=FAST_RECONNECT)
        recorder(cameras)
        bridge(cameras)
        wait_until(lambda: (s := camera_status(rdb, 1)) is not None and s.state == "streaming", 30.0, what="streaming")
        time.sleep(OFFLINE_S + 1)  # streaming steadily: no event
        assert _offline_events(base) == []

        server.stop()
        killed = time.monotonic()
        started = wait_until(lambda: _offline_events(base), OFFLINE_S + 10, interval_s=0.1, what="an offline event")
        seen_after_s = time.monotonic() - killed
        print(f"offline event on the API {seen_after_s:.2f} s after the camera stopped")
        assert seen_after_s <= OFFLINE_S + 2
        [event] = started
        assert event["phase"] == "start" and event["reason"], event
        hook = wait_until(receiver.delivered, 10.0, what="the webhook")
        sent = json.loads(hook[0].body)["event"]
        assert sent["type"] == "offline" and sent["phase"] == "start" and sent["id"] == event["id"]

        # Flapping: up for less than the window, down again, for a while: still the one event.
        for _ in range(4):
            server.start()
            time.sleep(1.0)
            server.stop()
            time.sleep(3.0)
        assert [e["id"] for e in _offline_events(base)] == [event["id"]]
        assert _offline_events(base)[0]["phase"] == "start"

        server.start()
        back = time.time()
        ended = wait_until(lambda: [e for e in _offline_events(base) if e["phase"] == "end"], OFFLINE_S + 20,
                           interval_s=0.2, what="the offline event's end")  # fmt: skip
        assert [e["id"] for e in _offline_events(base)] == [event["id"]]  # one event, start to end
        assert back - 1 <= ended[0]["endedAt"] <= back + 10  # dated when frames came back, not when it was said
        wait_until(lambda: len(receiver.delivered()) >= 2, 10.0, what="the webhook's end")
        assert [json.loads(p.body)["event"]["phase"] for p in receiver.delivered()] == ["start", "end"]
    finally:
        receiver.close()


def test_a_camera_that_sends_no_keyframe_is_a_recording_gap_with_its_cause_in_the_coverage(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], recorder: Callable[..., ServiceRun],
    gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    server = rtsp_server(size="320x180", fps=15, gop=1_000_000)  # one keyframe, at the start
    gate = {"id": 1, "name": "Gate", "source": server.url(), "record": {"mode": "continuous"},
            "health": {"gap_s": 5}}  # fmt: skip
    cameras = write_camera_file(tmp_path, [gate])
    fast = {"CAMSTREAM_RECORDINGS_SEGMENT_S": "2"}  # a gap after max(gap_s, 2 segments + 5 s) = 9 s
    base = gateway(cameras, env=fast)
    ingest(cameras, env=fast)
    recorder(cameras, env=fast)
    wait_until(lambda: (s := camera_status(rdb, 1)) is not None and s.state == "streaming", 30.0, what="streaming")
    streaming = time.monotonic()

    def gaps() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = web.get(f"{base}/api/events?type=recording_gap").json()["events"]
        return found

    [gap] = wait_until(gaps, 30.0, interval_s=0.2, what="a recording gap")
    print(f"recording gap on the API {time.monotonic() - streaming:.1f} s after the camera streamed: {gap['reason']}")
    assert gap["phase"] == "start" and gap["reason"].startswith("no footage written for"), gap
    status = camera_status(rdb, 1)
    assert status is not None and status.state == "streaming" and not status.recorded_bytes  # frames, no footage
    time.sleep(1.0)
    coverage = web.get(f"{base}/api/recordings/coverage?camera_id=1&since={gap['startedAt'] - 60}").json()
    [camera] = coverage["cameras"]
    assert camera["mode"] == "continuous" and camera["kept"] == 0 and camera["fraction"] == 0
    assert camera["gaps"] and camera["gaps"][-1]["cause"] == gap["reason"]
