"""Recordings through the API: a real RTSP camera (H.264 and AAC) recorded by ingest, indexed by the
recorder, listed and cut into clips by the gateway; the clips read back with PyAV and played by
Chromium."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import redis

from shared import keys
from shared.packets import PacketMessage
from tests.support import DATA, RtspServer, ServiceRun, wait_until, want_packets, web, write_camera_file
from tests.support.browser import browser_page, csp_violations
from tests.test_recording_segments import _length_prefixed, _nal_units

pytestmark = pytest.mark.rtsp
FAST = {"CAMSTREAM_RECORDINGS_SEGMENT_S": "2", "CAMSTREAM_PACKET_STREAM_S": "60"}


@pytest.fixture
def recorded(
    rtsp_server: Callable[..., RtspServer], ingest: Callable[..., ServiceRun], recorder: Callable[..., ServiceRun],
    gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path,
) -> str:  # fmt: skip
    """A camera recording continuously for 14 s (its packet stream read throughout); the gateway's base URL."""
    server = rtsp_server(size="640x360", fps=15, gop=15, audio="aac")
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "porch", "source": server.url(), "fps": 15, "record": {"mode": "continuous"}},
        {"id": 2, "name": "never recorded", "source": "demo:", "record": {"mode": "off"}},
    ])  # fmt: skip
    want_packets(rdb, 1)
    ingest(cameras, env=FAST)
    recorder(cameras, env=FAST)
    base = gateway(cameras, env=FAST)
    started = time.time()

    def long_enough() -> bool:
        ranges = web.get(f"{base}/api/recordings?camera_id=1").json()["recordings"]
        return bool(ranges) and ranges[-1]["end"] - ranges[0]["start"] >= 14

    wait_until(long_enough, 40.0, interval_s=0.5, what="14 s of recording indexed")
    assert time.time() - started < 40
    return base


def test_recorded_ranges_clips_byte_identical_and_bad_requests(recorded: str, rdb: redis.Redis, tmp_path: Path) -> None:
    base = recorded
    ranges = web.get(f"{base}/api/recordings?camera_id=1").json()["recordings"]
    assert len(ranges) == 1, f"contiguous segments make one range (gaps under 1 s): {ranges}"
    whole = ranges[0]
    assert whole["cameraId"] == 1 and whole["bytes"] > 0 and whole["events"] == [] and whole["motion"] == []
    start, end = whole["start"] + 3.3, whole["start"] + 9.3
    reply = web.get(f"{base}/api/cameras/1/clip.mp4?start={start}&end={end}")
    assert reply.status_code == 200 and reply.headers["content-type"] == "video/mp4", reply.text[:200]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(reply.content)
    with av.open(str(clip)) as container:
        video = container.streams.video[0]
        assert container.streams.audio and container.streams.audio[0].codec_context.name == "aac"
        packets = [p for p in container.demux(video) if p.size]
        seconds = float(packets[-1].pts * video.time_base) - float(packets[0].pts * video.time_base)
        pictures = [tuple(_length_prefixed(bytes(p))) for p in packets]
        keyframe = packets[0].is_keyframe
    assert keyframe, "a clip starts at a keyframe"
    assert 5.5 <= seconds <= 7.1, seconds  # from the keyframe at or before start (a GOP is 1 s) to end
    camera = {tuple(_nal_units(PacketMessage.from_entry(f).data)) for _i, f in rdb.xrange(keys.packet_stream(1))}
    assert all(p in camera for p in pictures), "the clip's pictures are the camera's access units, byte for byte"
    # The camera's recording state and what is kept, in the status and in /metrics.
    pipeline = next(c for c in web.get(f"{base}/api/streams/status").json()["cameras"] if c["cameraId"] == 1)
    assert pipeline["recording"] == "recording" and pipeline["recordingError"] is None
    assert pipeline["recordedBytes"] > 0 and abs(pipeline["oldestRecording"] - whole["start"]) < 0.01
    metrics = web.get(f"{base}/metrics").text
    assert 'camstream_recordings_bytes{camera="1"}' in metrics and "camstream_recordings_disk_free_bytes" in metrics
    assert 'camstream_recording_state{camera="1",state="recording"} 1.0' in metrics
    # Seekable: a Range request gets its part.
    part = web.get(f"{base}/api/cameras/1/clip.mp4?start={start}&end={end}", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    # Bad requests: clear 4xx.
    for path, status, words in [
        (f"/api/cameras/1/clip.mp4?start={end}&end={start}", 400, "after start"),
        (f"/api/cameras/1/clip.mp4?start={start}&end={start + 4000}", 400, "at most"),
        ("/api/cameras/9/clip.mp4?start=1&end=2", 404, "camera"),
        ("/api/cameras/2/clip.mp4?start=1&end=2", 404, "no recording"),
        (f"/api/cameras/1/clip.mp4?start={start}", 422, "end"),
        ("/api/cameras/1/clip.mp4?start=nan&end=2", 422, ""),
        ("/api/events/no-such-event/clip.mp4", 404, "no event"),
        ("/api/recordings?since=10&until=5", 400, "before until"),
        ("/api/recordings?since=0&until=99999999", 400, "31 days"),
        ("/api/recordings?camera_id=9", 404, "camera"),
    ]:
        answer = web.get(f"{base}{path}")
        assert answer.status_code == status and words in answer.text, (path, answer.status_code, answer.text)


@pytest.mark.usefixtures("chromium_available")
def test_the_dashboards_timeline_plays_seeks_and_downloads(recorded: str) -> None:
    base = recorded
    with browser_page(login=base, then="/") as page:
        page.locator(".tile[data-camera='1'] button.recordings").click()
        wait_until(lambda: page.evaluate("() => document.querySelector('#timeline .bar').dataset.ranges") == "1",
                   10.0, interval_s=0.2, what="the day's recorded range on the bar")  # fmt: skip
        coverage = "() => document.querySelector('#timeline .coverage').textContent"
        wait_until(lambda: page.evaluate(coverage).startswith("Recorded "), 10.0, interval_s=0.2,
                   what="the last 24 hours' coverage")  # fmt: skip
        print(page.evaluate(coverage))
        recorded_range = page.locator("#timeline .bar .range").first.bounding_box()
        assert recorded_range is not None
        # A click on the recorded range plays from there.
        page.mouse.click(recorded_range["x"] + recorded_range["width"] * 0.3, recorded_range["y"] + 5)
        video = "document.querySelector('#timeline video')"
        wait_until(lambda: page.evaluate(f"() => {video}.currentTime") > 1.0, 15.0, interval_s=0.2,
                   what="the clip to play")  # fmt: skip
        assert page.evaluate(f"() => {video}.getVideoPlaybackQuality().totalVideoFrames") > 10
        page.locator("#timeline .speed button[data-rate='2']").click()
        assert page.evaluate(f"() => {video}.playbackRate") == 2
        # Seek back (HTTP Range requests), and play on (the clip may have ended meanwhile, on a slow machine).
        page.evaluate(f"() => {{ {video}.currentTime = 0.5; {video}.play(); }}")
        wait_until(lambda: 0.5 < page.evaluate(f"() => {video}.currentTime") < 3, 10.0, interval_s=0.1,
                   what="playing on after a seek")  # fmt: skip
        link = page.evaluate("() => document.querySelector('#timeline a.download').getAttribute('href')")
        assert link.startswith("/api/cameras/1/clip.mp4?start=")
        status = page.evaluate("async (url) => (await fetch(url)).status", link)
        assert status == 200, "the selected range downloads as an MP4"
        assert not csp_violations(page)


def _empty_then_people(path: Path) -> Path:
    """A video file: 6 s of an empty grey scene, then TUD-Campus's people (25 fps, 640x480)."""
    with av.open(str(DATA / "TUD-Campus.mp4")) as source:
        people = [f.to_ndarray(format="rgb24") for f in source.decode(video=0)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for image in [np.full((480, 640, 3), 128, np.uint8)] * 150 + people:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_an_event_clip_of_a_file_camera_starts_pre_s_before_the_person_appears(
    ingest: Callable[..., ServiceRun], analyzer: Callable[..., ServiceRun], recorder: Callable[..., ServiceRun],
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    if not (DATA / "TUD-Campus.mp4").exists():
        pytest.skip("test footage missing: TUD-Campus.mp4")
    video = _empty_then_people(tmp_path / "empty-then-people.mp4")
    cameras = write_camera_file(tmp_path, [{
        "id": 7, "name": "Campus", "source": str(video), "fps": 10,
        "record": {"mode": "events", "pre_s": 3, "post_s": 2},
    }])  # fmt: skip
    ingest(cameras, env=FAST)
    analyzer(cameras)
    recorder(cameras, env=FAST)
    base = gateway(cameras, env=FAST)

    def person() -> dict[str, object] | None:
        found = web.get(f"{base}/api/events?camera=7&type=person").json()["events"]
        return found[-1] if found else None

    event = wait_until(person, 40.0, interval_s=0.5, what="a person event")
    started = float(event["startedAt"])  # type: ignore[arg-type]

    def recorded_past_start() -> list[dict[str, float]]:
        ranges = web.get(f"{base}/api/recordings?camera_id=7").json()["recordings"]
        return ranges if ranges and ranges[-1]["end"] > started + 1 else []

    ranges = wait_until(recorded_past_start, 20.0, interval_s=0.5, what="footage past the event's start")
    holding = next(r for r in ranges if r["start"] <= started <= r["end"])
    assert holding["start"] <= started - 3, "footage from before the person appeared is there (pre-capture)"
    assert any(e["id"] == event["id"] for e in holding["events"]), "the event is marked on its range"
    reply = web.get(f"{base}/api/events/{event['id']}/clip.mp4")
    assert reply.status_code == 200, reply.text
    clip = tmp_path / "event.mp4"
    clip.write_bytes(reply.content)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        times = [float(p.pts * stream.time_base) for p in packets]
        first_keyframe = packets[0].is_keyframe
    assert first_keyframe and times[-1] - times[0] >= 3 + 1 - 0.3, "the clip holds pre_s before the start, and more"
