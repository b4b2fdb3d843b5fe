"""Unit tests of the logic behind live view and recording that only whole-process tests reached
before: each camera's live streams kept in step with its cameras (gateway.cameras.live), session
bookkeeping and caps (gateway.webrtc.sessions), and segment cutting (ingest.segments). Real parts:
the test's redis-server, aiortc peer connections, H.264 encoded by PyAV and read back from disk."""

from __future__ import annotations

import fractions
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest
from pydantic import SecretStr

from gateway.bus.hubs import Hubs
from gateway.bus.store import Store
from gateway.cameras.live import LiveCameras
from gateway.webrtc.sessions import Sessions, TooManySessions
from gateway.webrtc.streams import Streams
from ingest.rtsp.depacketize import AccessUnit
from ingest.segments import SegmentWriter
from shared import recordings
from shared.cameras import Camera
from shared.redis_client import async_pool_client

FPS = 10


def camera(camera_id: int, source: str = "rtsp://127.0.0.1:8554/cam", name: str = "cam") -> Camera:
    return Camera(id=camera_id, name=f"{name} {camera_id}", source=SecretStr(source))


@pytest.fixture
async def live(redis_url: str) -> AsyncIterator[LiveCameras]:
    store = Store(async_pool_client(redis_url, 1.0, 8))
    hubs = Hubs(store, [], 4, 4)
    sessions = Sessions(Streams(), ice_servers=[], negotiation_timeout_s=5, max_pending=3, max_pending_per_client=2,
                        max_per_user=2)  # fmt: skip
    cameras = LiveCameras(store, hubs, sessions)
    yield cameras
    await sessions.close_all()
    await cameras.close()
    await hubs.close()
    await store.close()


async def test_each_camera_gets_its_streams_and_a_changed_source_gets_fresh_ones(live: LiveCameras) -> None:
    await live.apply([camera(1), camera(2, "demo:garage")])
    first, second = live.streams.get(1), live.streams.get(2)
    assert first is not None and first.passthrough is not None  # RTSP: its own H.264 is passed through
    assert second is not None and second.passthrough is None  # a demo scene: the transcoder only
    await live.apply([camera(1, name="renamed"), camera(2, "demo:garage")])
    assert live.streams.get(1) is first  # a new name leaves its viewers as they are
    await live.apply([camera(1, "rtsp://127.0.0.1:8554/other")])
    assert live.streams.get(2) is None  # deleted
    assert live.streams.get(1) not in (None, first)  # another source: fresh streams
    assert sorted(n for n, _ in live.streams.items()) == [1]


async def test_sessions_are_capped_counted_and_leave_their_feed_when_closed(live: LiveCameras) -> None:
    await live.apply([camera(1, "demo:front")])
    sessions = live.sessions
    feed = live.streams.get(1)
    assert feed is not None
    await sessions.create("1_1", 1, False, "127.0.0.11")  # viewers' addresses: labels, nothing connects
    with pytest.raises(ValueError, match="in use"):
        await sessions.create("1_1", 1, False, "127.0.0.12")  # a live id is never handed out twice
    await sessions.create("1_2", 1, False, "127.0.0.11")
    with pytest.raises(TooManySessions, match="this client has 2 sessions still connecting"):
        await sessions.create("1_3", 1, False, "127.0.0.11")
    await sessions.create("1_3", 1, True, "127.0.0.12")
    with pytest.raises(TooManySessions, match="3 sessions are still connecting"):
        await sessions.create("1_4", 1, False, "127.0.0.13")
    assert sessions.refused == 2
    assert len(feed.plain.viewers) == 2 and len(feed.overlay.viewers) == 1
    await sessions.close("1_1", "test")
    await sessions.close("1_3", "test")
    assert sorted(sessions.sessions) == ["1_2"]
    assert len(feed.plain.viewers) == 1 and not feed.overlay.viewers


def _h264_units(seconds: int, gop: int) -> list[tuple[AccessUnit, float]]:
    """A small H.264 stream, a keyframe every `gop` frames, as (access unit, pts in seconds)."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 160, 96, "yuv420p"
    encoder.time_base = fractions.Fraction(1, FPS)
    encoder.options = {"g": str(gop), "keyint_min": str(gop), "bf": "0", "tune": "zerolatency", "preset": "ultrafast"}
    units: list[tuple[AccessUnit, float]] = []
    for n in range(seconds * FPS + 1):
        frame = av.VideoFrame.from_ndarray(np.full((96, 160, 3), n % 250, np.uint8), format="rgb24").reformat(
            format="yuv420p"
        )
        frame.pts = n
        for packet in encoder.encode(frame if n < seconds * FPS else None):
            assert packet.pts is not None
            units.append((AccessUnit("h264", bytes(packet), packet.is_keyframe, packet.pts * 9000), packet.pts / FPS))
    return units


def test_segments_are_cut_at_the_first_keyframe_past_their_length(tmp_path: Path) -> None:
    units = _h264_units(seconds=6, gop=FPS)  # a keyframe every second
    writer = SegmentWriter(tmp_path, 1, segment_s=2.0)
    writer.start()
    start_s = 1_700_000_000.0
    for unit, pts_s in units[3:]:  # joined mid-GOP: nothing is written before the next keyframe
        writer.offer(unit, pts_s, start_s + pts_s)
    writer.stop()
    found = recordings.camera_segments(tmp_path, 1)
    assert all(s.end_ms is not None for s in found), found
    starts = [round(s.start_ms / 1000 - start_s, 2) for s in found]
    assert starts == [1.0, 3.0, 5.0], starts  # 2 s each, from the first keyframe; the last cut at the stop
    frames = []
    for segment in found:
        with av.open(str(segment.path)) as clip:
            decoded = list(clip.decode(video=0))
            frames.append(len(decoded))
            assert decoded[0].key_frame
    assert frames == [2 * FPS, 2 * FPS, len(units) - 5 * FPS], frames
    assert writer.segments == 3 and writer.dropped == 0
