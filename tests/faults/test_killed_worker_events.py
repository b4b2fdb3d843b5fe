"""An analyzer worker killed outright (SIGKILL) cannot end its events: the worker that takes its
camera ends them, so no event stays "in progress" for ever in the history, on the dashboard or in
Home Assistant. What the user sees: the camera's analysis resumes within the lease time, and the
events that were open end (at the last moment they were known) about ten seconds later."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from shared import keys
from shared.detections import Event, EventPhase
from tests.support import DATA, ServiceRun, read_detections, wait_until, worker_statuses, write_camera_file
from tests.support.history import events_by_id

Start = Callable[..., ServiceRun]
TTL_S = 2.0
GRACE_S = 10.0  # analyzer.service.LEFT_OPEN_GRACE_S


def test_the_events_a_killed_worker_left_open_are_ended_by_the_worker_that_takes_over(
    ingest: Start, analyzer: Start, gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path
) -> None:
    clip = DATA / "TUD-Campus.mp4"
    if not clip.exists():
        pytest.skip(f"test footage missing: {clip}")
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "campus", "source": str(clip), "fps": 10}])
    env = {"CAMSTREAM_ANALYZER_LEASE_TTL_S": str(TTL_S)}
    ingest(cameras)
    workers = [analyzer(cameras, env=env), analyzer(cameras, env=env)]
    base = gateway(cameras)
    wait_until(lambda: len(worker_statuses(rdb)) == 2, 30.0, what="two workers")
    wait_until(lambda: [e for e in events_by_id(base).values() if e["endedAt"] is None], 60.0, interval_s=0.5,
               what="an event in progress in the history")  # fmt: skip

    owner_id = wait_until(lambda: rdb.get(keys.camera_lease(1)), 10.0).decode()
    owner = next(w for w in workers if worker_statuses(rdb)[owner_id].pid == w.pid)
    survivor = next(w for w in workers if w is not owner)
    os.kill(owner.pid, signal.SIGKILL)
    killed_at = time.time()
    open_at_kill = {i: e for i, e in events_by_id(base).items() if e["endedAt"] is None}
    assert open_at_kill, "no event was in progress when the worker died"

    wait_until(lambda: any(d.worker != owner_id and d.analysed_at_s > killed_at for d in read_detections(rdb, 1)),
               TTL_S + 8.0, interval_s=0.2, what="the camera analysed again by the other worker")  # fmt: skip
    resumed_s = time.time() - killed_at

    def all_ended() -> bool:
        now = events_by_id(base)
        return all(now[i]["endedAt"] is not None for i in open_at_kill)

    wait_until(all_ended, GRACE_S + TTL_S + 10.0, interval_s=0.5, what="the dead worker's events ended")
    ended_s = time.time() - killed_at
    print(f"analysis resumed {resumed_s:.1f} s after the kill; its open events ended after {ended_s:.1f} s")
    after = events_by_id(base)
    for event_id, before in open_at_kill.items():
        ended = after[event_id]
        assert ended["phase"] == "end" and ended["startedAt"] == before["startedAt"]
        assert before["startedAt"] <= ended["endedAt"] <= killed_at + 1.0  # when it was last known, not now
    # The end went out live too (the bridge and the dashboards follow the events stream): once each.
    ends = [Event.decode(fields[keys.EVENT_FIELD.encode()]) for _, fields in rdb.xrange(keys.EVENTS_STREAM)]
    ended_ids = [e.id for e in ends if e.phase is EventPhase.END and e.id in open_at_kill]
    assert sorted(ended_ids) == sorted(open_at_kill)
    assert survivor.process.poll() is None
