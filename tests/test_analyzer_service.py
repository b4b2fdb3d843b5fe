"""A worker's parts in one process against a real redis-server: a camera's events from start to end,
leases kept and lost, a lapsed lease, and event messages kept through a Redis outage."""

from __future__ import annotations

import time

import numpy as np
import redis
import simplejpeg
from pydantic import SecretStr

from analyzer.leases import Leases
from analyzer.pipeline import CameraAnalysis, EventOut
from analyzer.publisher import Publisher
from analyzer.service import AnalyzerService
from shared import keys
from shared.analysis import AnalysisConfig
from shared.cameras import Camera
from shared.detections import Event, EventPhase, EventType
from shared.embedded_redis import EmbeddedRedis
from shared.messages import FrameMessage
from shared.settings import Settings
from tests.support.scenes import scene

MOTION_ONLY = AnalysisConfig(person=False, face=False, fps=5)


# Still for 2 s, a square moving for 3 s, then still: one movement.
MOVEMENT = [None] * 10 + [20 + 8 * i for i in range(15)] + [None] * 30


def test_a_movement_is_one_event_from_start_to_end() -> None:
    analysis = CameraAnalysis(4, MOTION_ONLY, None, None, idle_detect_s=5.0)
    events: list[EventOut] = []
    for t, x in enumerate(MOVEMENT):
        events += analysis.analyse(scene(t, x), 1.0, 1000 + t / 5, b"jpeg-%d" % t, time.time()).events
    start, end = (e.event for e in events)
    assert (start.phase, end.phase) == (EventPhase.START, EventPhase.END)
    assert start.id == end.id and start.camera_id == end.camera_id == 4 and start.type is EventType.MOTION
    assert events[0].snapshot is not None and events[1].snapshot is None  # the picture goes with the start
    assert start.ended_at_s is None and end.ended_at_s is not None
    assert 1002.0 <= start.started_at_s <= 1002.6  # the movement began at t = 2 s
    assert 1004.4 <= end.ended_at_s <= 1005.2  # ...and was last seen about 3 s later
    assert end.frames >= 10 and end.box is not None and end.box.w > 100  # the union of the square's path


def test_closing_mid_event_ends_it_once() -> None:
    analysis = CameraAnalysis(4, MOTION_ONLY, None, None, idle_detect_s=5.0)
    started = [
        e.event for t, x in enumerate(MOVEMENT[:18]) for e in analysis.analyse(scene(t, x), 1.0, t / 5, b"j", 0).events
    ]
    assert [e.phase for e in started] == [EventPhase.START]
    ended = [e.event for e in analysis.close(now_s=99.0)]
    assert [(e.id, e.phase) for e in ended] == [(started[0].id, EventPhase.END)]
    assert ended[0].ended_at_s is not None and ended[0].ended_at_s <= 18 / 5
    assert analysis.close(now_s=100.0) == []


def test_leases_are_renewed_by_their_owner_and_lost_to_no_one_else(rdb: redis.Redis) -> None:
    mine = Leases(rdb, "worker-a", [1, 2], ttl_s=2.0)
    gained, lost = mine.tick()
    assert (gained, lost) == ({1, 2}, set())
    assert rdb.get(keys.camera_lease(1)) == b"worker-a"
    assert mine.renew(1)
    # Another worker arrives: the even split gives it camera 2, which we release first.
    theirs = Leases(rdb, "worker-b", [1, 2], ttl_s=2.0)
    assert theirs.tick() == (set(), set())  # camera 2 is still ours: it waits
    assert mine.tick() == (set(), {2})
    assert theirs.tick() == ({2}, set())
    # A lease that lapsed and went to someone else is not renewed.
    rdb.set(keys.camera_lease(1), "worker-b")
    assert not mine.renew(1)
    assert 1 in mine.tick()[1]
    mine.release_all()
    assert rdb.get(keys.camera_lease(2)) == b"worker-b"  # release never touches another's lease


def frame(camera_id: int, seq: int, t_s: float, image: np.ndarray) -> dict[str, bytes]:
    jpeg = simplejpeg.encode_jpeg(image, 90, colorspace="BGR")
    return {keys.FRAME_FIELD: FrameMessage(camera_id, seq, t_s, image.shape[1], image.shape[0], jpeg).encode()}


def test_a_lapsed_lease_ends_the_cameras_open_events(redis_url: str, rdb: redis.Redis) -> None:
    """Seen before: the camera was dropped without its end messages; history showed events open forever."""
    settings = Settings(redis_url=SecretStr(redis_url), analyzer_lease_ttl_s=1.0)
    camera = Camera(id=7, name="lapsing", source=SecretStr("demo:"), analysis=MOTION_ONLY)
    service = AnalyzerService(settings, [camera])
    live = rdb.pubsub()
    live.subscribe(keys.camera_events_channel(7))
    try:
        service._tick()
        state = service.active[7]
        base = time.time() - 60
        for t, x in enumerate(MOVEMENT[:16]):
            rdb.xadd(keys.frame_stream(7), frame(7, t, base + t / 5, scene(t, x)))
            state.next_due = 0.0
            service._analyse(state)
        rdb.set(keys.camera_lease(7), "another-worker")  # we stalled past the TTL and it moved on
        service.keeper.renew_once()  # the lease keeper's next renewal finds it gone
        service._give_up_lost_leases()  # and the worker's loop gives the camera up
        assert 7 not in service.active
        messages = []
        while (message := live.get_message(timeout=0.5)) is not None:
            if message["type"] == "message":
                messages.append(Event.decode(message["data"]))
        assert [e.phase for e in messages] == [EventPhase.START, EventPhase.END]
        assert messages[0].id == messages[1].id
    finally:
        live.close()
        service.stop.set()
        service._shutdown()


def test_event_messages_wait_out_a_redis_outage_in_order(private_redis: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(private_redis.url, socket_timeout=1, socket_connect_timeout=1)
    publisher = Publisher(client, Settings(redis_url=SecretStr(private_redis.url)), history=None)

    def event(n: int, phase: EventPhase) -> EventOut:
        message = Event(f"1-{n:016x}", 1, EventType.MOTION, phase, 10.0 + n, None, None, None, 1, False, 0.0)
        return EventOut(message, None)

    publisher.events([event(1, EventPhase.START)])
    private_redis.kill()
    publisher.events([event(1, EventPhase.END), event(2, EventPhase.START)])  # never raises
    assert len(publisher.outbox) == 2
    private_redis.start()
    assert publisher.flush()
    history = [Event.from_entry(f) for _id, f in client.xrange(keys.EVENTS_STREAM)]
    assert [(e.id[-1], e.phase) for e in history] == [("1", EventPhase.END), ("2", EventPhase.START)]
    assert not publisher.outbox
    client.close()
