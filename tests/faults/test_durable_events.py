"""Event history survives Redis and every process being killed: real footage through real
processes, SIGKILL, restart, and the same events (same ids, fields, snapshots) are still listed."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from shared import keys
from shared.detections import Event
from shared.embedded_redis import EmbeddedRedis
from tests.support import DATA, ServiceRun, logged_pid, pid_alive, wait_until, web, write_camera_file
from tests.support.history import listed_events

Start = Callable[..., ServiceRun]
CLIP = DATA / "TUD-Campus.mp4"


def settled(base: str) -> list[dict[str, Any]]:
    """The listed history once two reads a second apart agree."""
    last: list[list[dict[str, Any]] | None] = [None]

    def same() -> bool:
        now = listed_events(base)
        if now == last[0]:
            return True
        last[0] = now
        return False

    wait_until(same, 20.0, interval_s=1.0, what="the history to settle")
    assert last[0] is not None
    return last[0]


def campus_camera(tmp_path: Path) -> Path:
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    return write_camera_file(tmp_path, [{"id": 1, "name": "campus", "source": str(CLIP), "fps": 10}])


class Subscriber:
    """Every event message published on Redis, from a thread, across Redis restarts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[Event] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self.url, socket_timeout=2)
                pubsub = client.pubsub()
                pubsub.subscribe(keys.EVENTS_CHANNEL)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None and message["type"] == "message":
                        self.messages.append(Event.decode(message["data"]))
            except (redis.RedisError, OSError):
                self._stop.wait(0.2)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def subscriber(private_redis: EmbeddedRedis) -> Iterator[Subscriber]:
    subscriber = Subscriber(private_redis.url)
    yield subscriber
    subscriber.close()


def test_history_survives_redis_and_every_process_killed(
    private_redis: EmbeddedRedis, ingest: Start, analyzer: Start, gateway: Callable[..., str], tmp_path: Path
) -> None:
    cameras = campus_camera(tmp_path)
    env = {"CAMSTREAM_REDIS_URL": private_redis.url, "CAMSTREAM_ANALYZER_LEASE_TTL_S": "2"}
    processes = [ingest(cameras, env=env), analyzer(cameras, env=env)]
    base = gateway(cameras, redis=private_redis.url)
    wait_until(lambda: len(listed_events(base)) >= 3, 60.0, interval_s=0.5, what="three events in /api/events")

    # Redis alone, killed and restarted empty: the processes carry on, new events are stored.
    before_redis = {e["id"] for e in listed_events(base)}
    private_redis.kill()
    private_redis.start()
    wait_until(lambda: {e["id"] for e in listed_events(base)} - before_redis, 60.0, interval_s=0.5,
               what="an event stored after Redis came back")  # fmt: skip
    assert all(p.process.poll() is None for p in processes), "a process died with Redis"
    assert before_redis <= {e["id"] for e in listed_events(base)}

    # Then everything, as a power cut would (bar the disk). The pipeline goes first and the history is
    # read once it has settled: an event's end written between the read and the kill is not a change.
    for process in processes:
        process.process.kill()
    before = settled(base)
    snapshots = {e["id"]: web.get(base + e["snapshotUrl"]).content for e in before if e["snapshotUrl"]}
    assert snapshots, "no event with a snapshot"
    gateway_pid = logged_pid(tmp_path / "gateway-0.log", "gateway")
    private_redis.kill()
    os.kill(gateway_pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(gateway_pid), 5.0)

    private_redis.start()
    base = gateway(cameras, redis=private_redis.url)
    after = {e["id"]: e for e in listed_events(base)}
    for event in before:
        assert after[event["id"]] == event, "an event changed across the restart"
    for event_id, jpeg in snapshots.items():
        assert web.get(f"{base}/api/events/{event_id}/snapshot.jpg").content == jpeg
    # And the restarted pipeline adds to the same history, each event once.
    ingest(cameras, env=env)
    analyzer(cameras, env=env)
    wait_until(lambda: len(listed_events(base)) > len(before), 60.0, interval_s=0.5,
               what="new events after the restart")  # fmt: skip
    ids = [e["id"] for e in listed_events(base)]
    assert len(ids) == len(set(ids))


def test_two_gateways_and_a_restarted_analyzer_store_each_event_once(
    private_redis: EmbeddedRedis, subscriber: Subscriber, ingest: Start, analyzer: Start,
    gateway: Callable[..., str], tmp_path: Path,
) -> None:  # fmt: skip
    cameras = campus_camera(tmp_path)
    env = {"CAMSTREAM_REDIS_URL": private_redis.url, "CAMSTREAM_ANALYZER_LEASE_TTL_S": "2"}
    bases = [gateway(cameras, redis=private_redis.url), gateway(cameras, redis=private_redis.url)]
    ingest(cameras, env=env)
    first = analyzer(cameras, env=env)
    wait_until(lambda: len(subscriber.messages) >= 2, 60.0, interval_s=0.5, what="events from the first worker")
    # Killed mid-event (its open events never see their end) once what it published is stored: a SIGKILL
    # takes what its history writer still queues, which only the fault suite's kill cases judge.
    stored = wait_until(lambda: (ids := {e["id"] for e in listed_events(bases[0])})
                        >= {m.id for m in subscriber.messages} and ids,
                        20.0, interval_s=0.2, what="the first worker's events stored")  # fmt: skip
    first.process.kill()
    before = {m.id for m in subscriber.messages}
    second = analyzer(cameras, env=env)
    wait_until(lambda: any(m.id not in before for m in subscriber.messages), 60.0, interval_s=0.5,
               what="events from the restarted worker")  # fmt: skip
    second.stop()  # ends its events: their end messages are stored too

    published = {m.id: m for m in subscriber.messages}  # the latest message of each event
    expected = stored | (set(published) - before)  # stored before the kill, and all of the second worker's
    for base in bases:
        events = wait_until(lambda b=base: (found := listed_events(b)) and {e["id"] for e in found} >= expected
                            and found, 10.0, what="every published event in /api/events")  # fmt: skip
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "an event listed twice"
        assert expected <= set(ids) <= set(published)
        for event in events:
            if event["id"] not in before:  # the second worker's: each in its last published phase
                assert event["phase"] == published[event["id"]].phase
