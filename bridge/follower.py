"""One target's walk along the events stream (`camstream:events:history`), from its own place.

The place (the id of the last message delivered or given up) is stored in the database after each
message, so a restarted bridge resumes there: what was not delivered is delivered once, and
nothing twice. Messages older than CAMSTREAM_BRIDGE_REPLAY_S when the target reaches them (after
a long stop or outage) are skipped and counted, so a return is never a flood of old news. A new
target starts from when it was added (MQTT: the stream's end). Each target walks on its own, so
a slow one delays no other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import cast

import redis
import redis.asyncio as aioredis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bridge.target import Target
from shared import keys
from shared.db.engine import DatabaseUnavailable, connect
from shared.db.integrations import get_cursor, set_cursor
from shared.detections import Event
from shared.messages import MessageError

log = logging.getLogger(__name__)

READ_COUNT = 100
QUEUED_COUNTED = 1000  # the status counts at most this many waiting messages
BLOCK_MS = 1000
RETRY_S = 2.0


Entry = tuple[bytes, dict[bytes, bytes]]


def streams_of(reply: object) -> list[tuple[bytes, list[Entry]]]:
    """XREAD's answer as this client returns it (bytes: responses are not decoded)."""
    return cast(list[tuple[bytes, list[Entry]]], reply or [])


def _ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


class Follower:
    def __init__(  # noqa: PLR0913 - a follower's target, its stores and where it starts
        self, target: Target, client: aioredis.Redis, engine: AsyncEngine, replay_s: float, stop: Callable[[], bool],
        since_s: float | None = None, cursor: str | None = None,
    ) -> None:  # fmt: skip
        self.target, self.client, self.engine, self.replay_s, self.stop = target, client, engine, replay_s, stop
        self.cursor = cursor or target.status.name  # its key among the bridge's cursors
        self.since_s = since_s  # a new target's first place: its creation (else the stream's end)
        self.place: str | None = None

    async def run(self) -> None:
        name = self.target.status.name
        while not self.stop():
            try:
                if self.place is None:
                    self.place = await self._start_place()
                await self._walk()
            except (redis.RedisError, OSError) as e:
                log.warning("%s: events stream unreadable (retrying): %s", name, type(e).__name__)
                await asyncio.sleep(RETRY_S)
            except (SQLAlchemyError, DatabaseUnavailable) as e:
                log.warning("%s: cannot keep its place in the database (retrying): %s", name, type(e).__name__)
                await asyncio.sleep(RETRY_S)

    async def _start_place(self) -> str:
        async with connect(self.engine) as connection:
            stored = await get_cursor(connection, self.cursor)
        if stored is not None:
            return stored
        if self.since_s is not None:
            place = f"{int(self.since_s * 1000)}-0"
            await self._keep(place)
            return place
        last = cast(list[Entry], await self.client.xrevrange(keys.EVENTS_STREAM, count=1))
        place = last[0][0].decode() if last else "0-0"
        await self._keep(place)
        return place

    async def _walk(self) -> None:
        assert self.place is not None
        answer = await self.client.xread({keys.EVENTS_STREAM: self.place}, count=READ_COUNT, block=BLOCK_MS)
        kept, read = self.place, sum(len(entries) for _stream, entries in streams_of(answer))
        try:
            for _stream, entries in streams_of(answer):
                for raw_id, fields in entries:
                    entry_id = raw_id.decode()
                    delivered = await self._one(entry_id, fields)
                    if delivered is None:
                        return  # stopping before it was delivered: the place stays before it
                    self.place = entry_id
                    if delivered:  # kept at once; a run of messages it does not want, once at the end
                        await self._keep(entry_id)
                        kept = entry_id
                    if self.stop():
                        return
        finally:
            if self.place != kept:
                await self._keep(self.place)
        # A read that took fewer than it asked for reached the end: nothing waits (no need to count).
        queued = 0
        if read >= READ_COUNT:
            ahead = await self.client.xrange(keys.EVENTS_STREAM, f"({self.place}", "+", count=QUEUED_COUNTED)
            queued = len(cast(list[Entry], ahead or []))
        self.target.status.queued = queued

    async def _one(self, entry_id: str, fields: dict[bytes, bytes]) -> bool | None:
        """True: delivered or given up; False: not for this target (or too old); None: stopped first."""
        status = self.target.status
        try:
            event = Event.from_entry(fields)
        except MessageError as e:
            log.warning("%s: skipped a malformed event message %s: %s", status.name, entry_id, e)
            return False
        if not self.target.wants(event):
            return False
        if time.time() * 1000 - _ms(entry_id) > self.replay_s * 1000:
            status.skipped += 1
            if status.skipped == 1 or status.skipped % 100 == 0:
                log.warning("%s: skipped %d event message(s) older than %.0f s", status.name, status.skipped,
                            self.replay_s)  # fmt: skip
            return False
        return True if await self.target.deliver(event) else None

    async def _keep(self, place: str) -> None:
        async with connect(self.engine) as connection:
            await set_cursor(connection, self.cursor, place)
