"""A webhook deleted while it delivers leaves nothing behind: a new one, even one given the
deleted one's id (SQLite reuses the highest), starts at its creation and is sent no older event."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from shared import keys
from shared.detections import Box, Event, EventPhase, EventType
from tests.support import ServiceRun, wait_until, web, write_camera_file
from tests.support.receiver import Receiver


def _publish_every(rdb: redis.Redis, interval_s: float, stop: threading.Event) -> None:
    n = 0
    while not stop.wait(interval_s):
        n += 1
        now = time.time()
        event = Event(f"1-{n:016x}", 1, EventType.MOTION, EventPhase.START, now, None, 0.5, Box(1, 2, 3, 4), 1, False,
                      0.0)  # fmt: skip
        rdb.xadd(keys.EVENTS_STREAM, {keys.EVENT_FIELD: event.encode()})


def test_a_webhook_made_after_a_deleted_one_gets_no_event_from_before_it(
    bridge: Callable[..., ServiceRun], gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path
) -> None:
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "yard", "source": "demo:", "record": {"mode": "off"}}])
    slow, fresh = Receiver(delay_s=0.3), Receiver()
    stop = threading.Event()
    publisher = threading.Thread(target=_publish_every, args=(rdb, 0.1, stop), daemon=True)
    try:
        base = gateway(cameras)
        first = web.post(f"{base}/api/webhooks", json={"name": "slow", "url": slow.url}).json()
        bridge(cameras)
        publisher.start()
        wait_until(lambda: len(slow.delivered()) >= 3, 30.0, interval_s=0.1, what="the slow webhook delivering")
        gone = httpx.delete(f"{base}/api/webhooks/{first['id']}", headers=web.headers(base))
        assert gone.status_code == 204
        wait_until(lambda: f"webhook:{first['id']}" not in _targets(base), 10.0, what="the bridge to drop it")
        time.sleep(2.0)  # events that the deleted webhook never saw
        made_at = time.time()
        second = web.post(f"{base}/api/webhooks", json={"name": "fresh", "url": fresh.url}).json()
        assert second["id"] == first["id"], "SQLite gives the deleted id again: the case this test is about"
        wait_until(lambda: len(fresh.delivered()) >= 5, 30.0, interval_s=0.1, what="the new webhook delivering")
        started = [json.loads(p.body)["event"]["startedAt"] for p in fresh.delivered()]
        older = [s for s in started if s < made_at - 0.5]  # events start when published, give or take the clock
        assert not older, f"{len(older)} of {len(started)} deliveries were of events from before the webhook"
    finally:
        stop.set()
        publisher.join(5)
        for receiver in (slow, fresh):
            receiver.close()


def _targets(base: str) -> set[str]:
    return {t["name"] for t in web.get(f"{base}/api/system").json()["bridge"]["targets"]}
