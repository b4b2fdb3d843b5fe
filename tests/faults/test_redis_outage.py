"""Redis frozen or killed and restarted empty: every process rides it out and comes back by itself."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import redis

from shared import keys
from shared.detections import Event, EventPhase
from shared.embedded_redis import EmbeddedRedis
from tests.support import (
    OUTAGES,
    ServiceRun,
    camera_status,
    read_detections,
    read_frames,
    redis_outage,
    wait_until,
    write_camera_file,
)


def test_camera_survives_a_frozen_redis(private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "demo", "source": "demo:?size=320x240", "fps": 10}])
    run = ServiceRun("ingest", private_redis.url, cameras, tmp_path / "ingest.log")
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    try:
        before = wait_until(lambda: read_frames(client, 1, 0.3), 10.0, what="frames")[-1]
        redis_outage(private_redis, "frozen", 3.0)
        after = wait_until(lambda: read_frames(client, 1, 0.3), 5.0, what="frames after Redis came back")[0]
        # The source loop kept its pace while Redis was frozen: about 30 frames were made (and dropped).
        assert after.seq - before.seq >= 20, (before.seq, after.seq)
        status = wait_until(lambda: (s := camera_status(client, 1)) and s.frames_failed > 0 and s, 5.0)
        assert status.pid is not None and run.process.poll() is None
        assert "Redis unavailable" in run.log_text()
    finally:
        client.close()
        stopped = run.stop()
    assert stopped == 0, "ingest did not stop cleanly"


def test_analyzer_rides_out_redis_killed_and_frozen(private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    """Seen before: both workers exited with status 1 during a 30 s outage."""
    cameras = write_camera_file(tmp_path, [
        {"id": 1, "name": "demo", "source": "demo:?size=320x240", "fps": 10, "analysis": {"fps": 5}},
    ])  # fmt: skip
    env = {"CAMSTREAM_ANALYZER_LEASE_TTL_S": "2"}
    ingest = ServiceRun("ingest", private_redis.url, cameras, tmp_path / "ingest.log", env=env)
    worker = ServiceRun("analyzer", private_redis.url, cameras, tmp_path / "analyzer.log", env=env)
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    try:
        wait_until(lambda: read_detections(client, 1), 30.0, interval_s=0.2, what="the first analysed frame")
        subscriber = client.pubsub()
        subscriber.subscribe(keys.EVENTS_CHANNEL)
        for outage in OUTAGES:
            redis_outage(private_redis, outage, 4.0)  # past the lease TTL: the worker gives its camera up
            if outage == "killed":  # a new, empty Redis: subscribe again
                subscriber = client.pubsub()
                subscriber.subscribe(keys.EVENTS_CHANNEL)
            back = time.time()
            wait_until(
                lambda b=back: [d for d in read_detections(client, 1) if d.analysed_at_s > b], 10.0, interval_s=0.2,
                what=f"analysis to resume within 10 s after Redis was {outage}",
            )  # fmt: skip
            assert worker.process.poll() is None, f"the worker exited when Redis was {outage}"
            assert ingest.process.poll() is None
        # The walker's motion event was open when the camera was given up: its end was kept and sent.
        ended: list[Event] = []

        def motion_ended() -> bool:
            while (message := subscriber.get_message(timeout=0.1)) is not None:
                if message["type"] == "message":
                    ended.append(Event.decode(message["data"]))
            return any(e.phase is EventPhase.END for e in ended)

        wait_until(motion_ended, 15.0, interval_s=0.0, what="an event end after the outages")
        assert "cannot reach Redis; carrying on" in worker.log_text()
    finally:
        client.close()
        codes = (worker.stop(), ingest.stop())
    assert codes == (0, 0), f"exit codes of the worker and ingest: {codes}"


async def test_webrtc_session_numbers_never_repeat_after_redis_loses_everything(
    private_redis: EmbeddedRedis,
) -> None:
    """Sessions live in the gateway across a Redis loss: a new one must not take a live one's id."""
    import redis.asyncio as aioredis  # noqa: PLC0415

    from gateway.bus.store import Store  # noqa: PLC0415

    store = Store(aioredis.Redis.from_url(private_redis.url))
    try:
        before = [await store.next_session_number() for _ in range(5)]
        private_redis.kill()
        private_redis.start()  # empty: the counter is gone
        with contextlib.suppress(redis.ConnectionError):  # the pooled connection died with it
            await store.next_session_number()
        after = await store.next_session_number()
        assert after > max(before), (before, after)
    finally:
        await store.close()
