"""Event history benchmark: the write path and the first page, on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.events [--events 20000] [--seconds 10] [--no-write]

1. events stored a second by one writer (analyzer.history.HistoryWriter, which batches what
   queued up), a third of them with a 30 KB snapshot; and one event per transaction;
2. the delay from publication (Publisher.events on a worker) to the event being readable in
   `/api/events` of a running gateway process, p50 and p95, at 20 events a second;
3. `GET /api/events?limit=50` requests a second (wrk, 32 connections) with 100,000 events stored.
PostgreSQL is a private server started here (Debian's initdb/pg_ctl, as the tests do).
It rewrites the events section of docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis
from pydantic import SecretStr

from analyzer.history import HistoryWriter
from analyzer.pipeline import EventOut
from analyzer.publisher import Publisher
from bench.common import gateway_env, machine, write_section, wrk_rate
from shared.db.engine import create_engine
from shared.db.events import EventHistory, StoredEvent
from shared.db.startup import open_database
from shared.db.url import database_url
from shared.detections import Box, Event, EventPhase, EventType
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.settings import Settings
from tests.support import ServiceRun, gateway_answers, wait_until, web
from tests.support.postgres import postgres_bin, postgres_server

SNAPSHOT = b"\xff\xd8" + os.urandom(30_000)
QUIET = {"CAMSTREAM_LOG_LEVEL": "WARNING"}
_ids = iter(range(10**12))


def make_event(started_s: float, phase: EventPhase = EventPhase.START) -> Event:
    n = next(_ids)
    ended_s = started_s + 3 if phase is EventPhase.END else None
    return Event(f"{1 + n % 4}-{n:016x}", 1 + n % 4, EventType.PERSON, phase, started_s, ended_s, 0.9,
                 Box(10, 20, 30, 40), 5, True, started_s)  # fmt: skip


def settings_for(url: str) -> Settings:
    return Settings(database_url=SecretStr(url))


def write_rate(url: str, count: int) -> tuple[float, float]:
    """(events a second through the batching writer, events a second one per transaction)."""
    settings = settings_for(url)
    asyncio.run(_migrate(settings))
    now = time.time()
    items = [StoredEvent(make_event(now - n), SNAPSHOT if n % 3 == 0 else None) for n in range(count)]
    writer = HistoryWriter(settings).start()
    started = time.perf_counter()
    for n in range(0, count, 10):  # as a worker hands them over: a few at a time
        while writer.waiting > 4000:  # below its queue's bound: nothing is dropped
            time.sleep(0.001)
        writer.put(items[n : n + 10])
    while writer.waiting:
        time.sleep(0.005)
    batched = writer.stored / (time.perf_counter() - started)
    writer.close(10)
    if writer.dropped or writer.stored != count:
        raise RuntimeError(f"the writer stored {writer.stored} of {count} events, dropped {writer.dropped}")

    async def one_by_one() -> float:
        engine = create_engine(database_url(settings))
        history = EventHistory(engine)
        singles = [StoredEvent(make_event(now - n), None) for n in range(min(count, 2000))]
        t0 = time.perf_counter()
        for item in singles:
            await history.store([item])
        rate = len(singles) / (time.perf_counter() - t0)
        await engine.dispose()
        return rate

    return batched, asyncio.run(one_by_one())


async def _migrate(settings: Settings) -> None:
    engine = await open_database(database_url(settings), 10)
    await engine.dispose()


@contextmanager
def gateway_process(redis_url: str, url: str, folder: Path) -> Iterator[str]:
    port = free_port()
    run = ServiceRun("gateway", redis_url, None, folder / "gateway.log", "--host", "127.0.0.1", "--port", str(port),
                     env={**gateway_env(folder), "CAMSTREAM_DATABASE_URL": url})  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: gateway_answers(base), 30.0, what="the gateway")
        yield base
    finally:
        run.stop()


def readable_delay(redis_url: str, url: str, folder: Path, seconds: float) -> list[float]:
    """Milliseconds from publication to first sight in /api/events, for events at 20 a second."""
    settings = settings_for(url)
    client = redis.Redis.from_url(redis_url)
    writer = HistoryWriter(settings).start()
    publisher = Publisher(client, settings, writer)
    published: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            event = make_event(time.time())
            publisher.events([EventOut(event, SNAPSHOT)])
            published[event.id] = publisher.outbox[-1].published_at_s if publisher.outbox else time.time()
            stop.wait(0.05)

    with (
        gateway_process(redis_url, url, folder) as base,
        httpx.Client(base_url=base, headers=web.headers(base)) as http,
    ):
        thread = threading.Thread(target=publish)
        thread.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event in http.get("/api/events", params={"limit": 50}).json()["events"]:
                seen.setdefault(event["id"], time.time())
        stop.set()
        thread.join()
    writer.close(10)
    client.close()
    return [(seen[i] - published[i]) * 1000 for i in published if i in seen]


def page_rate(redis_url: str, url: str, folder: Path, seconds: float, stored: int = 100_000) -> tuple[float, float]:
    """(requests a second through a gateway, the query alone in milliseconds: what a request that
    the gateway's short page cache does not serve costs the database)."""

    async def fill() -> float:
        engine = await open_database(database_url(settings_for(url)), 10)
        history = EventHistory(engine)
        now = time.time()
        have = await history.count()
        for start in range(have, stored, 2000):
            batch = range(start, min(stored, start + 2000))
            await history.store([StoredEvent(make_event(now - n * 5.0), None) for n in batch])
        timings = []
        for _ in range(300):
            t0 = time.perf_counter()
            await history.page(None, None, None, None, 50, None)
            timings.append((time.perf_counter() - t0) * 1000)
        await engine.dispose()
        return statistics.median(timings)

    query_ms = asyncio.run(fill())
    with gateway_process(redis_url, url, folder) as base:
        return wrk_rate(f"{base}/api/events?limit=50", seconds, web.headers(base)), query_ms


def measure(engine: str, url: str, redis_url: str, folder: Path, count: int, seconds: float) -> dict[str, float]:
    batched, single = write_rate(url, count)
    print(f"{engine}: {batched:.0f} events/s stored by the writer, {single:.0f}/s one per transaction", flush=True)
    delays = readable_delay(redis_url, url, folder, seconds)
    q = statistics.quantiles(delays, n=20)
    print(f"{engine}: publication to readable p50 {statistics.median(delays):.0f} ms, p95 {q[18]:.0f} ms "
          f"over {len(delays)} events", flush=True)  # fmt: skip
    rate, query_ms = page_rate(redis_url, url, folder, seconds) if shutil.which("wrk") else (float("nan"),) * 2
    print(f"{engine}: GET /api/events?limit=50 with 100,000 stored: {rate:.0f} requests/s; the query alone "
          f"{query_ms:.2f} ms", flush=True)  # fmt: skip
    return {"batched": batched, "single": single, "p50": statistics.median(delays), "p95": q[18],
            "samples": len(delays), "page": rate, "query_ms": query_ms}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found (apt-get install wrk): the page rate is skipped", file=sys.stderr)
    results: dict[str, dict[str, float]] = {}
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{folder}/camstream.db"
        results["SQLite"] = measure("SQLite", sqlite_url, server.url, Path(folder), args.events, args.seconds)
        if postgres_bin() is None:
            print("PostgreSQL is not installed: only SQLite measured", file=sys.stderr)
        else:
            with postgres_server() as pg:
                url = asyncio.run(pg.create_database("bench"))
                results["PostgreSQL"] = measure("PostgreSQL", url, server.url, Path(folder), args.events, args.seconds)
    if not args.no_write:
        write_section("events", [
            "## Event history (database)",
            "",
            f"Command: `.venv/bin/python -m bench.events --events {args.events} --seconds {args.seconds:g}`. "
            f"{machine()}. SQLite: a file in a temporary folder (WAL, synchronous=NORMAL). PostgreSQL 15: a "
            "private server on loopback (fsync off, as in the tests).",
            "",
            "| engine | stored by the writer (events/s) | one per transaction (events/s) "
            "| publication to readable p50 / p95 (ms) | `GET /api/events?limit=50`, 100,000 stored (requests/s) "
            "| the first-page query alone (ms) |",
            "| --- | --- | --- | --- | --- | --- |",
            *[f"| {name} | {r['batched']:,.0f} | {r['single']:,.0f} | {r['p50']:.0f} / {r['p95']:.0f} "
              f"({r['samples']:.0f} events) | {r['page']:,.0f} | {r['query_ms']:.2f} |" for name, r in results.items()],
            "",
            "Writer: one analyzer worker's `HistoryWriter`, handed 10 events at a time, a third of them with a "
            "30 KB snapshot; it stores whatever has queued in one transaction. Publication to readable: events "
            "published at 20 a second by `Publisher.events` (database and Redis), a client polling "
            "`/api/events?limit=50` of a gateway process back to back; the delay includes one poll and the "
            "gateway's page cache (identical listing requests share one query for 0.1 s, which is most of the "
            "p50). Page rate: wrk, 1 thread, 32 connections, median of 3 runs; the query alone: "
            "`EventHistory.page` in this process, median of 300, what a request the cache does not serve "
            "costs the database. Targets: 1,000 events a second written, p95 publication to readable 200 ms, "
            "1,000 requests a second.",
        ])  # fmt: skip
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
