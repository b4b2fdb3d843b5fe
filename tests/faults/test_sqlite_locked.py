"""The SQLite database locked by another process (a backup tool, an admin's sqlite3 shell) for
15 s while cameras are analysed: the API's reads still answer (WAL), its writes answer 503 with a
reason once the busy timeout passes (never a 500), the workers' events wait in their queue, and
once the lock goes every event published meanwhile is in the history, once. And the camera API's
changes, which read before they write, all land while another process writes all the time."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

from tests.support import DATA, ROOT, ServiceRun, wait_until, web, write_camera_file
from tests.support.history import events_by_id, stored_as_published, stream_events

Start = Callable[..., ServiceRun]
CLIP = DATA / "TUD-Campus.mp4"
LOCK_S = 15.0

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""

# Another process writing as the bridge does after each delivery, as fast as it can.
KEEP_WRITING = """
import asyncio, sys, time
from sqlalchemy.engine import make_url
from shared.db.engine import connect, create_engine
from shared.db.integrations import set_cursor
async def main():
    engine, n = create_engine(make_url(sys.argv[1])), 0
    print("writing", flush=True)
    while True:
        async with connect(engine, write=True) as connection:
            await set_cursor(connection, "webhook:load", f"{n}-0")
        n += 1
        await asyncio.sleep(0.002)
asyncio.run(main())
"""


@pytest.mark.timeout(240)
def test_a_locked_sqlite_file_is_a_503_for_writes_and_loses_no_event(
    ingest: Start, analyzer: Start, gateway: Callable[..., str], rdb: redis.Redis, tmp_path: Path, _data_dir: Path
) -> None:
    if not CLIP.exists():
        pytest.skip(f"test footage missing: {CLIP}")
    cameras = write_camera_file(tmp_path, [{"id": 1, "name": "campus", "source": str(CLIP), "fps": 10,
                                            "record": {"mode": "off"}}])  # fmt: skip
    base = gateway(cameras)
    workers = [ingest(cameras), analyzer(cameras)]
    wait_until(lambda: len(events_by_id(base)) >= 2, 60.0, interval_s=0.5, what="events stored")
    database = next(_data_dir.glob("*.db"))
    sqlite3.connect(database).close()

    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(database), str(LOCK_S)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        locked_at = time.time()
        assert web.get(f"{base}/api/events", timeout=15).status_code == 200  # readers are not blocked
        write = web.post(f"{base}/api/webhooks", json={"name": "while locked", "url": "http://127.0.0.1:9/x"},
                         timeout=30)  # fmt: skip
        assert write.status_code == 503, (write.status_code, write.text)
        assert "database" in write.json()["detail"]
        assert all(w.process.poll() is None for w in workers)
        holder.wait(LOCK_S + 10)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    unlocked_at = time.time()
    assert unlocked_at - locked_at >= LOCK_S - 1

    # Everything published while the file was locked reaches the history.
    during = {i: e for i, e in stream_events(rdb).items() if locked_at <= e.published_at_s <= unlocked_at}
    assert during, "no event was published during the lock"

    wait_until(lambda: stored_as_published(base, during), 30.0, interval_s=0.5,
               what="the events published during the lock, stored")  # fmt: skip
    stored_s = time.time() - unlocked_at
    created = web.post(f"{base}/api/webhooks", json={"name": "after", "url": "http://127.0.0.1:9/x"})
    assert created.status_code == 201, created.text
    ids = [e["id"] for e in web.get(f"{base}/api/events", params={"limit": 500}).json()["events"]]
    assert len(ids) == len(set(ids))
    print(f"{len(during)} event(s) published during the {LOCK_S:g} s lock; all stored {stored_s:.1f} s after it")


@pytest.mark.timeout(120)
def test_camera_changes_all_land_while_another_process_writes_all_the_time(
    gateway: Callable[..., str], tmp_path: Path, _data_dir: Path
) -> None:
    base = gateway(write_camera_file(tmp_path, [{"id": 1, "name": "front", "source": "demo:", "fps": 5}]))
    database = next(_data_dir.glob("*.db"))
    writer = subprocess.Popen([sys.executable, "-c", KEEP_WRITING, f"sqlite+aiosqlite:///{database}"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    admin = web.headers(base)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
        answers = [
            httpx.patch(f"{base}/api/cameras/1", json={"fps": 5 + n % 5}, headers=admin, timeout=15).status_code
            for n in range(30)
        ]
        added = web.post(f"{base}/api/cameras", json={"name": "new", "source": "rtsp://127.0.0.1:9/none"}, timeout=15)
        answers.append(added.status_code)
        if added.status_code == 201:
            answers.append(
                httpx.delete(f"{base}/api/cameras/{added.json()['id']}", headers=admin, timeout=15).status_code
            )
        assert writer.poll() is None, "the other writer failed"
    finally:
        writer.kill()
        writer.wait()
        if writer.stdout is not None:
            writer.stdout.close()
    assert answers == [200] * 30 + [201, 204], answers
    assert web.get(f"{base}/api/cameras/1").json()["targetFps"] == 5 + 29 % 5
