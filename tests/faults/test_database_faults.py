"""The database away: at start a clear error, during requests a 503, while a worker writes a
wait; nothing promised is lost. And event retention running in the recorder by itself."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from analyzer.history import HistoryWriter
from recorder.service import Recorder
from shared.db.events import EventHistory, StoredEvent
from shared.db.startup import open_database
from shared.db.url import database_url
from shared.detections import Box, Event, EventPhase, EventType
from shared.embedded_redis import free_port
from shared.process import opened_database
from shared.settings import Settings
from tests.support import ROOT, publish_events, wait_until, wait_until_async
from tests.support.inprocess import api, settings
from tests.support.postgres import PostgresServer

DAY_S = 86400.0


def event(n: int, started: float, phase: EventPhase = EventPhase.START) -> Event:
    return Event(f"1-{n:016x}", 1, EventType.PERSON, phase, started, started + 1 if phase is EventPhase.END else None,
                 0.9, Box(1, 2, 3, 4), 3, True, started)  # fmt: skip


@pytest.mark.parametrize("module", ["gateway", "analyzer", "ingest"])
def test_an_unreachable_database_at_start_is_one_clear_line(module: str) -> None:
    password = "n0t-for-logs#/"
    url = f"postgresql://camstream:{password.replace('#', '%23').replace('/', '%2F')}@127.0.0.1:{free_port()}/cams"
    env = {**os.environ, "CAMSTREAM_DATABASE_URL": url, "CAMSTREAM_DATABASE_TIMEOUT_S": "2"}
    result = subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 69, result
    message = result.stderr.strip()
    assert message.startswith(f"camstream {module}: database postgresql+asyncpg://***@127.0.0.1:"), message
    assert "cannot connect" in message and "Traceback" not in message
    assert "n0t-for-logs" not in result.stderr + result.stdout and "%23" not in result.stderr


def test_a_worker_keeps_its_events_while_the_database_is_down(own_postgres: PostgresServer) -> None:
    url = asyncio.run(own_postgres.create_database("faults"))
    settings = Settings(database_url=SecretStr(url), database_timeout_s=2)
    writer = HistoryWriter(settings).start()
    try:
        t = time.time()
        writer.put([StoredEvent(event(1, t), b"one")])
        wait_until(lambda: writer.stored == 1, 20.0, what="the first event stored")
        own_postgres.halt()
        writer.put([StoredEvent(event(1, t, EventPhase.END), b"best"), StoredEvent(event(2, t + 1), None)])
        time.sleep(1.5)  # a few failed tries
        assert writer.waiting == 2 and writer.dropped == 0
        own_postgres.resume()
        wait_until(lambda: writer.waiting == 0, 30.0, what="the waiting events stored after the restart")
    finally:
        writer.close(10)

    async def stored() -> tuple[list[Event], bytes | None]:
        engine = await open_database(database_url(settings), 5)
        history = EventHistory(engine)
        try:
            return (await history.page(None, None, None, None, 50, None))[0], await history.snapshot(event(1, t).id)
        finally:
            await engine.dispose()

    events, snapshot = asyncio.run(stored())
    assert [(e.id, e.phase) for e in events] == [(event(2, t).id, "start"), (event(1, t).id, "end")]
    assert snapshot == b"best"


async def test_a_lost_database_is_a_503_and_the_gateway_recovers(own_postgres: PostgresServer, redis_url: str) -> None:
    url = await own_postgres.create_database("gateway")
    async with api(redis_url, database_url=SecretStr(url), database_timeout_s=2) as http:
        assert (await http.get("/api/events")).status_code == 200
        await asyncio.to_thread(own_postgres.halt)
        for path in ("/api/events?limit=7", "/api/events/1-x", "/api/events/1-x/snapshot.jpg"):
            reply = await http.get(path)
            assert reply.status_code == 503 and reply.json()["detail"] == "database unavailable; try again shortly"
        assert (await http.get("/api/cameras")).status_code == 200  # the rest of the API goes on
        assert (await http.get("/api/system")).json()["database"] is False
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and "database unreachable" in ready.json()["problems"]
        await asyncio.to_thread(own_postgres.resume)
        await wait_until_async(lambda: _answers(http, "/api/events?limit=8", 200), 20.0, what="/api/events again")
        assert (await http.get("/api/system")).json()["database"] is True


async def _answers(http: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await http.get(path)).status_code == status


@asynccontextmanager
async def recorder_running(redis_url: str, **overrides: object) -> AsyncIterator[None]:
    """The recorder's passes in this event loop, on the test's database, until the block ends."""
    config = settings(redis_url, **overrides)
    stop = threading.Event()
    async with opened_database(config) as engine:
        running = asyncio.create_task(Recorder(config, engine).run(stop))
        try:
            yield
        finally:
            stop.set()
            await running


async def test_the_recorder_deletes_expired_events_by_itself(redis_url: str) -> None:
    now = time.time()
    publish_events(redis_url, [(event(1, now - 3 * DAY_S), b"old"), (event(2, now - 60), b"new")])
    async with api(redis_url, events_retain_days=2) as http, recorder_running(redis_url, events_retain_days=2):
        await wait_until_async(lambda: _answers(http, f"/api/events/{event(1, now).id}", 404), 15.0,
                               what="the old event deleted")  # fmt: skip
        ids = [e["id"] for e in (await http.get("/api/events")).json()["events"]]
        assert ids == [event(2, now).id]
        assert (await http.get(f"/api/events/{event(1, now).id}/snapshot.jpg")).status_code == 404
