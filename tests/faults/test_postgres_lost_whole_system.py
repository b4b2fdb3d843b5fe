"""PostgreSQL stopped for 30 s (as a crash would) under ingest, an analyzer worker, the bridge and
the gateway: no process exits (same pids), the live view goes on, the API's history answers 503
with a reason meanwhile (never a 500), and once the database is back every event published during
the outage is in the history, once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.support import DATA, ServiceRun, read_frames, wait_until, web, write_camera_file
from tests.support.history import events_by_id, stored_as_published, stream_events
from tests.support.postgres import PostgresServer

Start = Callable[..., ServiceRun]
CLIP = DATA / "TUD-Campus.mp4"
OUTAGE_S = 30.0


@pytest.mark.timeout(300)
def test_every_process_rides_out_postgresql_stopped_for_30_s_and_no_event_is_lost(
    own_postgres: PostgresServer, ingest: Start, analyzer: Start, bridge: Start, gateway: Callable[..., str],
    rdb: redis.Redis, tmp_path: Path,
) -> None:  # fmt: skip
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    url = asyncio.run(own_postgres.create_database("faults"))
    env = {"CAMSTREAM_DATABASE_URL": url, "CAMSTREAM_DATABASE_TIMEOUT_S": "2"}
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "campus", "source": str(CLIP), "fps": 10,
                                            "record": {"mode": "off"}}])  # fmt: skip
    base = gateway(cameras, env=env)
    processes = [ingest(cameras, env=env), analyzer(cameras, env=env), bridge(cameras, env=env)]
    wait_until(lambda: len(events_by_id(base)) >= 2, 60.0, interval_s=0.5, what="events stored")
    pids = [p.pid for p in processes]

    own_postgres.halt()
    halted_at = time.time()
    reply = web.get(f"{base}/api/events", timeout=15)
    assert reply.status_code == 503 and "database" in reply.json()["detail"], reply.text
    assert read_frames(rdb, 1, 1.0), "the live view stopped with the database"
    time.sleep(max(0.0, OUTAGE_S - (time.time() - halted_at)))
    assert [p.process.poll() for p in processes] == [None] * len(processes), "a process exited"
    own_postgres.resume()
    resumed_at = time.time()

    during = {i: e for i, e in stream_events(rdb).items() if halted_at <= e.published_at_s <= resumed_at}
    assert during, "no event was published during the outage"
    wait_until(lambda: stored_as_published(base, during), 60.0, interval_s=0.5, what="the events of the outage, stored")
    stored_s = time.time() - resumed_at
    assert [p.pid for p in processes] == pids and all(p.process.poll() is None for p in processes)
    ids = [e["id"] for e in web.get(f"{base}/api/events", params={"limit": 500}).json()["events"]]
    assert len(ids) == len(set(ids))
    print(f"{len(during)} event(s) published during the {OUTAGE_S:g} s outage; all stored {stored_s:.1f} s after")
