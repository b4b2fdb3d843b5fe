"""The worker's events into the database, from a thread of its own.

The analysis loop hands events over and never waits for the database: a thread with its own
event loop writes whatever has queued up in one transaction (a burst becomes one batch), and
keeps what it could not write while the database is away, in a bounded queue, retrying with
backoff. Storing is idempotent by event id (shared.db.events), so a retry never duplicates.

It also finds the events a killed worker left open: when this worker takes a camera, the thread
looks (after a grace time, in which a worker that stopped properly has stored its ends) for that
camera's events that started earlier and never ended, and hands them back to be ended.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import DatabaseUnavailable, reason
from shared.db.events import EventHistory, StoredEvent
from shared.db.startup import open_database
from shared.db.url import database_url, masked
from shared.detections import Event
from shared.settings import Settings

log = logging.getLogger(__name__)

QUEUE_EVENTS = 5_000  # as the Redis outbox: many minutes of a busy system
QUEUE_BYTES = 64 * 1024 * 1024
BATCH = 500
RETRY_INITIAL_S = 0.5
RETRY_MAX_S = 5.0


@dataclass(frozen=True)
class Sweep:
    camera_id: int
    taken_at_s: float  # when this worker took the camera: events that started before are not ours
    due: float  # time.monotonic() after which to look


def _size(item: StoredEvent) -> int:
    return 512 + (len(item.snapshot) if item.snapshot is not None else 0)


class HistoryWriter:
    def __init__(self, settings: Settings) -> None:
        self.url = database_url(settings)
        self.timeout_s = settings.database_timeout_s
        self._queue: deque[StoredEvent] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.stored = 0
        self.dropped = 0  # queue overflow during a long outage, or a message the database refused
        self._sweeps: list[Sweep] = []
        self._left_open: deque[Event] = deque()
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)

    def start(self) -> HistoryWriter:
        self._thread.start()
        return self

    def put(self, items: list[StoredEvent]) -> None:
        """Queue events to store; never blocks. Past the bounds the oldest go, counted and logged."""
        with self._lock:
            for item in items:
                self._queue.append(item)
                self._bytes += _size(item)
            while len(self._queue) > QUEUE_EVENTS or self._bytes > QUEUE_BYTES:
                self._bytes -= _size(self._queue.popleft())
                self.dropped += 1
                log.error("history queue full: an event message was not stored (%d so far)", self.dropped)
        self._wake.set()

    def sweep_later(self, camera_id: int, taken_at_s: float, grace_s: float) -> None:
        """Look, grace_s from now, for the camera's events that started before taken_at_s and are open."""
        with self._lock:
            self._sweeps.append(Sweep(camera_id, taken_at_s, time.monotonic() + grace_s))

    def left_open(self) -> list[Event]:
        """The events found left open since the last call (to be ended by the worker)."""
        with self._lock:
            found = list(self._left_open)
            self._left_open.clear()
        return found

    async def _sweep_due(self, history: EventHistory) -> None:
        with self._lock:
            due = [s for s in self._sweeps if s.due <= time.monotonic()]
        for sweep in due:
            found = await history.left_open(sweep.camera_id, sweep.taken_at_s)
            with self._lock:
                self._sweeps.remove(sweep)
                self._left_open.extend(found)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    def close(self, timeout_s: float) -> int:
        """Store what waits (for up to timeout_s), stop; how many messages were left unstored."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout_s)
        left = self.waiting
        if left:
            log.warning("stopping with %d event message(s) not stored in the database", left)
        return left

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        engine: AsyncEngine | None = None
        delay = RETRY_INITIAL_S
        failing = False
        try:
            while not (self._stopping.is_set() and (not self.waiting or failing)):
                try:
                    if engine is None:
                        engine = await open_database(self.url, self.timeout_s)
                    history = EventHistory(engine)
                    await self._sweep_due(history)
                    if not await self._store_waiting(history):
                        await asyncio.to_thread(self._wake.wait, 0.5)
                        self._wake.clear()
                except (DatabaseUnavailable, OperationalError, InterfaceError, OSError) as e:
                    if not failing:
                        why = e if isinstance(e, DatabaseUnavailable) else reason(e)
                        log.warning("cannot store events in the database (%s); %d waiting, retrying", why, self.waiting)
                    failing = True
                    await asyncio.to_thread(self._stopping.wait, delay)
                    delay = min(RETRY_MAX_S, delay * 2)
                    continue
                if failing:
                    log.info("database %s takes events again; %d waiting", masked(self.url), self.waiting)
                failing, delay = False, RETRY_INITIAL_S
        finally:
            if engine is not None:
                await engine.dispose()

    async def _store_waiting(self, history: EventHistory) -> bool:
        """Store the oldest batch; False if nothing waited. Raises the errors worth a retry."""
        with self._lock:
            batch = list(itertools.islice(self._queue, BATCH))
        if not batch:
            return False
        try:
            await history.store(batch)
        except (OperationalError, InterfaceError):
            raise
        except DBAPIError:  # the database refused something in it: store the rest, one by one
            for item in batch:
                await self._store_or_drop(history, item)
        else:
            self.stored += len(batch)
        self._forget(batch)
        return True

    async def _store_or_drop(self, history: EventHistory, item: StoredEvent) -> None:
        try:
            await history.store([item])
            self.stored += 1
        except (OperationalError, InterfaceError):
            raise
        except SQLAlchemyError as e:
            self.dropped += 1
            log.error("event %s was refused by the database and dropped: %s", item.event.id[:80], reason(e))

    def _forget(self, batch: list[StoredEvent]) -> None:
        """Take the stored batch off the queue; put() may have dropped some of it meanwhile."""
        stored = {id(item) for item in batch}
        with self._lock:
            while self._queue and id(self._queue[0]) in stored:
                self._bytes -= _size(self._queue.popleft())
