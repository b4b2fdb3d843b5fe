"""Events from real footage through ingest and an analyzer worker; bad frames don't stop it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import redis
import simplejpeg

from shared import keys
from shared.detections import Event, EventPhase, EventType
from shared.messages import FrameMessage
from tests.support import (
    DATA,
    ServiceRun,
    read_detections,
    stored_event,
    wait_until,
    worker_statuses,
    write_camera_file,
)

Start = Callable[..., ServiceRun]


def still_clip(path: Path) -> Path:
    """Two seconds of one unchanging picture: a scene where nothing moves."""
    rng = np.random.default_rng(7)
    picture = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for _ in range(20):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_people_make_person_events_and_a_still_scene_makes_none(
    ingest: Start, analyzer: Start, rdb: redis.Redis, tmp_path: Path
) -> None:
    clip = DATA / "TUD-Campus.mp4"
    if not clip.exists():
        pytest.skip(f"test footage missing: {clip}")
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "campus", "source": str(clip), "fps": 10},
        {"id": 2, "name": "still", "source": str(still_clip(tmp_path / "still.mp4")), "fps": 10},
    ])  # fmt: skip
    live = rdb.pubsub()
    live.subscribe(keys.camera_events_channel(1), keys.EVENTS_CHANNEL)
    ingest(cameras)
    analyzer(cameras)

    received: list[Event] = []

    def person_started() -> bool:
        while (message := live.get_message(timeout=0.1)) is not None:
            if message["type"] == "message":
                received.append(Event.decode(message["data"]))
        return any(e.type is EventType.PERSON and e.phase is EventPhase.START for e in received)

    wait_until(person_started, 30.0, interval_s=0.0, what="a person event on pub/sub")
    person = next(e for e in received if e.type is EventType.PERSON)
    assert person.camera_id == 1 and person.score is not None and person.score >= 0.5 and person.box is not None
    history = [Event.from_entry(f) for _id, f in rdb.xrange(keys.EVENTS_STREAM)]
    assert person.id in {e.id for e in history}
    # Durable history: the event and its snapshot are in the database, moments after publication.
    stored, snapshot = wait_until(lambda: (found := stored_event(person.id))[0] and found, 5.0, what="the stored event")
    assert stored is not None and stored.camera_id == 1 and stored.started_at_s == person.started_at_s
    assert snapshot is not None and simplejpeg.decode_jpeg_header(snapshot)[:2] == (480, 640)

    wait_until(lambda: len(read_detections(rdb, 2)) >= 25, 20.0, what="five seconds of the still scene analysed")
    still_events = [e for _id, f in rdb.xrange(keys.EVENTS_STREAM)
                    if (e := Event.from_entry(f)).camera_id == 2]  # fmt: skip
    assert still_events == [], still_events
    assert all(not d.motion for d in read_detections(rdb, 2))


def test_bad_frames_are_counted_and_skipped(analyzer: Start, rdb: redis.Redis, tmp_path: Path) -> None:
    cameras = write_camera_file(tmp_path, [{"id": 5, "name": "fed by the test", "source": "demo:", "fps": 10}])
    worker = analyzer(cameras)
    picture = simplejpeg.encode_jpeg(np.full((120, 160, 3), 128, np.uint8), colorspace="BGR")
    seq = 0

    def send(payload: bytes) -> None:
        rdb.xadd(keys.frame_stream(5), {keys.FRAME_FIELD: payload}, maxlen=20, approximate=True)

    def good() -> bytes:
        nonlocal seq
        seq += 1
        return FrameMessage(5, seq, time.time(), 160, 120, picture).encode()

    def bad_count() -> int:
        return sum(s.cameras.get("5").frames_bad for s in worker_statuses(rdb).values() if "5" in s.cameras)

    def analysed_up_to(minimum: int) -> bool:
        send(good())
        return any(d.seq >= minimum for d in read_detections(rdb, 5))

    wait_until(lambda: analysed_up_to(1), 20.0, interval_s=0.1, what="the first frame analysed")
    bad = [
        b"\x00not msgpack",
        FrameMessage(5, 999, time.time(), 160, 120, b"\xff\xd8 not a jpeg").encode(),
        FrameMessage(6, 999, time.time(), 160, 120, picture).encode(),  # another camera's frame
    ]
    for count, payload in enumerate(bad, start=1):
        send(payload)
        wait_until(lambda c=count: bad_count() >= c, 5.0, interval_s=0.1, what=f"bad frame {count} counted")
    mark = seq + 1
    wait_until(lambda: analysed_up_to(mark), 5.0, interval_s=0.1, what="analysis going on after bad frames")
    assert worker.process.poll() is None
    assert "bad frame skipped" in worker.log_text()
