"""The storage layer on both engines: every test here runs on SQLite and on a real PostgreSQL
server (the `database_url` fixture), against the same expectations."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from recorder.event_retention import expire
from shared.db import migrate
from shared.db.accounts import Accounts
from shared.db.cameras import apply_registry, revision, save_camera, set_meta
from shared.db.engine import connect, create_engine
from shared.db.events import EventHistory, StoredEvent
from shared.db.recordings import RecordingIndex
from shared.db.schema import CAMERAS_REVISION, cameras, metadata
from shared.db.startup import CameraSource, prepare
from shared.db.url import database_url as url_of
from shared.detections import Box, Event, EventPhase, EventType
from shared.settings import Settings
from tests.support import write_camera_file

DAY_S = 86400.0


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url_of(Settings(database_url=SecretStr(database_url))))
    yield engine
    await engine.dispose()


async def _prepared(engine: AsyncEngine, cameras_file: Path | None = None) -> EventHistory:
    await prepare(engine, CameraSource.read(cameras_file, os.environ), os.environ)
    return EventHistory(engine)


def event(
    event_id: str, phase: EventPhase = EventPhase.START, *, camera: int = 1, kind: EventType = EventType.PERSON,
    started: float | None = None, frames: int = 1, snapshot: bool = True,
) -> Event:  # fmt: skip
    started_s = time.time() if started is None else started
    ended = started_s + frames if phase is EventPhase.END else None
    score = None if kind is EventType.MOTION else 0.5 + frames / 100
    return Event(event_id, camera, kind, phase, started_s, ended, score, Box(10, 20, 30, 40), frames, snapshot,
                 started_s + frames)  # fmt: skip


async def test_an_empty_database_gets_the_current_schema_and_a_second_start_changes_nothing(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await _prepared(engine)
    assert f"schema empty -> {migrate.head()}" in caplog.text and "imported 4 camera(s)" in caplog.text
    caplog.clear()
    await _prepared(engine)
    assert "schema" not in caplog.text and "camera" not in caplog.text, caplog.text
    async with engine.connect() as connection:
        assert await migrate.current(connection) == migrate.head()
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        # The tables the code queries are exactly what the migrations made.
        diff = await connection.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    assert {"events", "event_snapshots", "cameras", "meta", "alembic_version"} <= names
    assert diff == [], diff


def test_processes_starting_together_migrate_and_import_once(database_url: str, tmp_path: Path) -> None:
    cameras_file = write_camera_file(tmp_path, [{"id": n, "name": f"camera {n}", "source": "demo:"} for n in (1, 2)])
    env = {**os.environ, "CAMSTREAM_DATABASE_URL": database_url, "CAMSTREAM_CAMERAS_FILE": str(cameras_file)}
    start = "from shared.config import *; print(len(cameras_or_exit('t', load_settings_or_exit('t')).cameras))"
    commands = [[sys.executable, "-m", "shared.db", "upgrade"]] * 2 + [[sys.executable, "-c", start]] * 3
    processes = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]  # fmt: skip
    results = [(p.wait(60), *p.communicate()) for p in processes]
    assert all(code == 0 for code, _, _ in results), results
    upgrades = [out for (_, out, _), c in zip(results, commands, strict=True) if "shared.db" in c]
    started = [out.strip() for (_, out, _), c in zip(results, commands, strict=True) if "-c" in c]
    assert sum(f"upgraded empty -> {migrate.head()}" in out for out in upgrades) <= 1, upgrades
    assert started == ["2", "2", "2"], results
    assert sum("imported 2 camera(s)" in err for _, _, err in results) <= 1


async def test_each_event_is_stored_once_whatever_is_sent_again(engine: AsyncEngine, database_url: str) -> None:
    history = await _prepared(engine)
    t = time.time()
    start, end = event("1-a", started=t, frames=2), event("1-a", EventPhase.END, started=t, frames=9)
    motion = event("1-m", kind=EventType.MOTION, started=t + 1)
    await history.store([StoredEvent(start, b"first"), StoredEvent(motion, b"motion")])
    await history.store([StoredEvent(start, b"first again")])  # a writer that retried
    await history.store([StoredEvent(end, b"best")])
    await history.store([StoredEvent(start, b"late start")])  # a start that arrived after its end
    # Two writers (say, a worker and the one that took its camera over) sending the same messages at once.
    other = create_engine(engine.url)
    try:
        await asyncio.gather(
            history.store([StoredEvent(end, b"best"), StoredEvent(motion, None)]),
            EventHistory(other).store([StoredEvent(motion, b"motion"), StoredEvent(end, b"best")]),
        )
    finally:
        await other.dispose()

    events, _ = await history.page(None, None, None, None, 50, None)
    assert [e.id for e in events] == ["1-m", "1-a"]
    assert await history.get("1-a") == end  # the end, every field as published
    assert await history.snapshot("1-a") == b"best"
    assert await history.snapshot("1-m") == b"motion"  # a start's snapshot is kept when no end brings one
    assert await history.count() == 2


async def test_pages_list_every_event_once_newest_first_with_filters(engine: AsyncEngine) -> None:
    history = await _prepared(engine)
    t0 = 1_700_000_000.0
    stored = [
        event(f"e{n:03d}", camera=1 + n % 2, kind=EventType.MOTION if n % 3 == 0 else EventType.PERSON,
              started=t0 + n // 2)  # pairs share a start time: the cursor must still split them right
        for n in range(130)
    ]  # fmt: skip
    await history.store([StoredEvent(e, None) for e in stored])

    seen: list[Event] = []
    cursor = None
    while True:
        page, cursor = await history.page(None, None, None, None, 50, cursor)
        seen += page
        if cursor is None:
            break
    assert len(seen) == 130 and len({e.id for e in seen}) == 130
    assert [e.started_at_s for e in seen] == sorted((e.started_at_s for e in stored), reverse=True)

    camera_2, _ = await history.page(2, None, None, None, 500, None)
    assert {e.id for e in camera_2} == {e.id for e in stored if e.camera_id == 2}
    motion, _ = await history.page(None, "motion", None, None, 500, None)
    assert {e.id for e in motion} == {e.id for e in stored if e.type is EventType.MOTION}
    window, _ = await history.page(None, None, t0 + 10, t0 + 20, 500, None)
    assert {e.id for e in window} == {e.id for e in stored if t0 + 10 <= e.started_at_s <= t0 + 20}


async def test_retention_deletes_what_is_older_than_the_limit_and_nothing_else(engine: AsyncEngine) -> None:
    history = await _prepared(engine)
    now = time.time()
    old = [event(f"old{n}", started=now - 31 * DAY_S - n) for n in range(1203)]  # more than two batches
    kept = [event("young", started=now - 29 * DAY_S), event("today", started=now - 60)]
    await history.store([StoredEvent(e, b"jpeg") for e in old + kept])

    assert await expire(history, retain_days=30) == len(old)
    left, _ = await history.page(None, None, None, None, 500, None)
    assert [e.id for e in left] == ["today", "young"]
    assert await history.snapshot("young") == b"jpeg"
    assert await history.snapshot("old0") is None and await history.get("old0") is None
    async with engine.connect() as connection:
        orphans = await connection.scalar(text("SELECT count(*) FROM event_snapshots"))
    assert orphans == 2
    assert await expire(history, retain_days=30) == 0


async def test_cameras_are_imported_once_then_a_changed_file_is_applied(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("YARD_PASSWORD", "pa55-w0rd-secret")
    first = write_camera_file(tmp_path, [
        {"id": 1, "name": "door", "source": "demo:"},
        {"id": 2, "name": "yard", "source": "rtsp://admin:${YARD_PASSWORD}@127.0.0.1:8554/yard"},
        {"id": 3, "name": "garage", "source": "demo:"},
        {"id": 5, "name": "attic", "source": "demo:"},
    ])  # fmt: skip
    history = await _prepared(engine, first)
    assert "imported 4 camera(s) from camera file" in caplog.text
    async with engine.connect() as connection:
        stored = [row.definition for row in await connection.execute(select(cameras.c.definition))]
        first_revision = await revision(connection)
    # The password stays in the environment; the database keeps the placeholder.
    assert "pa55-w0rd-secret" not in json.dumps(stored) and "${YARD_PASSWORD}" in json.dumps(stored)
    await history.store([StoredEvent(event("3-x", camera=3), None)])

    caplog.clear()
    await _prepared(engine, first)  # the same file again: nothing to do
    assert "cameras:" not in caplog.text

    second = write_camera_file(tmp_path, [
        {"id": 1, "name": "front door", "source": "demo:"},
        {"id": 2, "name": "yard", "source": "rtsp://admin:${YARD_PASSWORD}@127.0.0.1:8554/yard"},
        {"id": 4, "name": "porch", "source": "demo:"},
    ], name="cameras-2.yaml")  # fmt: skip
    cameras_now = await prepare(engine, CameraSource.read(second, os.environ), os.environ)
    assert "added camera(s) 4" in caplog.text and "updated camera(s) 1" in caplog.text
    assert "deleted camera(s) 5 (no history)" in caplog.text
    assert "camera(s) 3 left" in caplog.text and "kept with their history and disabled" in caplog.text
    by_id = {c.id: c for c in cameras_now.cameras}
    assert sorted(by_id) == [1, 2, 3, 4] and by_id[1].name == "front door" and not by_id[3].enabled
    assert by_id[2].source.get_secret_value() == "rtsp://admin:pa55-w0rd-secret@127.0.0.1:8554/yard"
    assert "pa55-w0rd-secret" not in caplog.text
    async with engine.connect() as connection:
        assert await revision(connection) > first_revision


async def test_the_registry_list_keeps_local_settings_and_the_history_of_cameras_that_leave(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    history = await _prepared(engine, write_camera_file(tmp_path, [{"id": 1, "name": "own", "source": "demo:"}]))
    lobby = {"id": 11, "name": "Lobby", "source": "rtsp://127.0.0.1:8554/lobby"}
    yard = {"id": 12, "name": "Yard", "source": "rtsp://127.0.0.1:8554/yard"}
    taken = {"id": 1, "name": "not ours", "source": "rtsp://127.0.0.1:8554/other"}
    zones = {"motion_zones": [[[0.0, 0.5], [1.0, 0.5], [1.0, 1.0]]]}

    async def stored() -> dict[int, dict[str, object]]:
        async with engine.connect() as connection:
            rows = await connection.execute(select(cameras.c.id, cameras.c.definition))
            return {row.id: row.definition for row in rows}

    async with engine.connect() as connection:
        changes = await apply_registry(connection, [lobby, yard, taken])
    assert changes.added == [11, 12] and (await stored())[1]["name"] == "own"  # the file's camera 1 is left alone
    async with engine.connect() as connection:  # an admin draws a zone on the registry's camera 12
        await save_camera(connection, {**(await stored())[12], "analysis": zones}, new=False)
    await history.store([StoredEvent(event("11-x", camera=11), None)])

    async with engine.connect() as connection:  # 12 renamed, 11 (with an event) gone
        changes = await apply_registry(connection, [{**yard, "name": "Back yard"}])
    now = await stored()
    assert changes.updated == [12] and changes.disabled == [11] and not changes.deleted
    assert now[12]["name"] == "Back yard" and now[12]["analysis"] == zones and now[12]["registry"] is True
    assert now[11]["enabled"] is False

    async with engine.connect() as connection:  # 11 back; then 12 (no history) gone for good
        changes = await apply_registry(connection, [lobby])
    now = await stored()
    assert changes.updated == [11] and changes.deleted == [12] and now[11].get("enabled", True) is True
    assert sorted(now) == [1, 11]


async def test_a_write_that_reads_first_waits_for_another_writer_instead_of_failing(engine: AsyncEngine) -> None:
    """Read, then write, while another process writes meanwhile (the camera API does this, and the
    bridge's switches, the registry, enrolment): both land. Begun deferred, SQLite would answer
    the first "database is locked" at once, without waiting, as the other committed in between."""
    await _prepared(engine)
    other = create_engine(engine.url)  # a pool of its own: another process
    try:
        async with connect(engine, write=True) as connection:
            before = await revision(connection)
            meanwhile = asyncio.create_task(_bump_revision(other, by=10))
            await asyncio.sleep(0.5)  # long enough for the other to commit, were it let
            await set_meta(connection, CAMERAS_REVISION, str(before + 1))
        await asyncio.wait_for(meanwhile, 10.0)
        async with connect(engine) as connection:
            after = await revision(connection)
    finally:
        await other.dispose()
    if engine.url.get_backend_name() == "sqlite":
        assert after == before + 11, "the other should have waited for our write, then read it"
    else:  # PostgreSQL never fails either (read committed): the last write wins
        assert after in (before + 1, before + 11)


async def _bump_revision(engine: AsyncEngine, by: int) -> None:
    async with connect(engine, write=True) as connection:
        await set_meta(connection, CAMERAS_REVISION, str(await revision(connection) + by))


async def test_events_keep_what_was_seen_and_pages_filter_by_it(engine: AsyncEngine) -> None:
    history = await _prepared(engine)
    t0 = 1_700_000_000.0
    car = event("car-1", EventPhase.END, kind=EventType.OBJECT, started=t0)
    car = Event(**{**{f: getattr(car, f) for f in Event.__dataclass_fields__}, "label": "car", "stationary": True})
    dog = Event(**{**{f: getattr(car, f) for f in Event.__dataclass_fields__}, "id": "dog-1", "label": "dog",
                   "stationary": False, "started_at_s": t0 + 1})  # fmt: skip
    person = event("person-1", started=t0 + 2)
    await history.store([StoredEvent(e, None) for e in (car, dog, person, event("motion-1", kind=EventType.MOTION))])
    assert await history.get("car-1") == car and (await history.get("person-1") or person).label == "person"
    cars, _ = await history.page(None, None, None, None, 50, None, label="car")
    assert [e.id for e in cars] == ["car-1"] and cars[0].stationary
    objects, _ = await history.page(None, "object", None, None, 50, None)
    assert [e.id for e in objects] == ["dog-1", "car-1"]
    people, _ = await history.page(None, None, None, None, 50, None, label="person")
    assert [e.id for e in people] == ["person-1"]


async def test_the_label_migration_gives_older_person_and_face_events_their_labels(engine: AsyncEngine) -> None:
    from alembic import command  # noqa: PLC0415

    async with connect(engine, write=True) as connection:
        await connection.run_sync(lambda c: command.upgrade(migrate._config(c), "0005"))
        now = time.time()
        for n, kind in enumerate(("person", "face", "motion")):
            await connection.execute(text(
                "INSERT INTO events (id, camera_id, type, phase, started_at, started_us, frames, has_snapshot, "
                f"published_at, stored_at) VALUES ('old-{kind}', 1, '{kind}', 'end', {now + n}, "
                f"{round((now + n) * 1e6)}, 1, false, {now}, {now})"
            ))  # fmt: skip
        await connection.commit()
    async with connect(engine, write=True) as connection:
        assert await migrate.upgrade(connection) == ("0005", migrate.head())
    history = EventHistory(engine)
    labels = {e.id: (e.label, e.stationary) for e in (await history.page(None, None, None, None, 9, None))[0]}
    assert labels == {"old-person": ("person", False), "old-face": ("face", False), "old-motion": (None, False)}


async def test_recorded_ranges_are_merged_in_the_database(engine: AsyncEngine) -> None:
    """GET /api/recordings's ranges: neighbouring segments merged by the database's window functions
    (SQLite's and PostgreSQL's alike), a month of segments never read into memory."""
    await _prepared(engine)
    index = RecordingIndex(engine)
    spans = [(1, 0, 10_000), (1, 10_500, 20_000), (1, 30_000, 40_000), (2, 5_000, 15_000), (1, 40_200, 50_000)]
    await index.add([{"camera_id": c, "start_ms": a, "end_ms": b, "bytes": 100, "path": f"{c}/{a}.mp4"}
                     for c, a, b in spans])  # fmt: skip
    assert await index.ranges(None, 0, 60_000, 1000, 100) == [
        (1, 0, 20_000, 200), (1, 30_000, 50_000, 200), (2, 5_000, 15_000, 100)]  # fmt: skip
    assert await index.ranges(1, 12_000, 35_000, 1000, 100) == [(1, 10_500, 20_000, 100), (1, 30_000, 40_000, 100)]
    assert len(await index.ranges(None, 0, 60_000, 1000, 2)) == 2


async def test_failed_logins_in_the_audit_log_are_bounded(engine: AsyncEngine) -> None:
    await _prepared(engine)
    accounts = Accounts(engine)
    for i in range(7):
        await accounts.record("login_failed", None, f"guess{i}", f"198.51.100.{i}")
        if i == 3:
            await accounts.record("user_added", "admin", "vera", "127.0.0.1")
    assert await accounts.trim_failed_logins(3) == 4
    kept = [(e.action, e.target) for e in await accounts.audit_page(100, None)]
    assert kept == [("login_failed", "guess6"), ("login_failed", "guess5"), ("login_failed", "guess4"),
                    ("user_added", "vera")], kept  # fmt: skip
    assert await accounts.trim_failed_logins(3) == 0
