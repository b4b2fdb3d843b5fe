"""Counts of the rules' events (analyzer.rules) from the event history: crossings of each line each
way and entries into each zone, per bucket of time. From the database, so they survive restarts of
every process (GET /api/counts, the bridge's totals since midnight). Raises SQLAlchemyError or
DatabaseUnavailable when the database fails or cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import connect
from shared.db.schema import events
from shared.detections import EventType


@dataclass(frozen=True, slots=True)
class Count:
    name: str  # the line's or the zone's
    kind: str  # "in" or "out" (a line's crossings), "entered" or "loitering" (a zone's)
    bucket: int  # from `since`, in buckets
    count: int


class RuleCounts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def counts(self, camera_id: int, since_s: float, until_s: float, bucket_s: float) -> list[Count]:
        """Every line's crossings by direction and every zone's entries and loiterings, per bucket."""
        since_us, until_us, bucket_us = round(since_s * 1e6), round(until_s * 1e6), max(round(bucket_s * 1e6), 1)
        bucket = ((events.c.started_us - since_us) // bucket_us).label("bucket")
        window = (events.c.camera_id == camera_id, events.c.started_us >= since_us, events.c.started_us < until_us)
        crossings = (
            select(events.c.line, events.c.direction, bucket, func.count())
            .where(*window, events.c.type == str(EventType.LINE_CROSSED), events.c.line.is_not(None))
            .group_by(events.c.line, events.c.direction, bucket)
        )
        visits = (
            select(events.c.zone, events.c.type, bucket, func.count())
            .where(*window, events.c.type.in_([str(EventType.ZONE_ENTERED), str(EventType.LOITERING)]),
                   events.c.zone.is_not(None))
            .group_by(events.c.zone, events.c.type, bucket)
        )  # fmt: skip
        async with connect(self.engine) as connection:
            lines = (await connection.execute(crossings)).all()
            zones = (await connection.execute(visits)).all()
        found = [Count(name, direction or "in", int(b), int(n)) for name, direction, b, n in lines]
        found += [Count(name, "entered" if kind == EventType.ZONE_ENTERED else "loitering", int(b), int(n))
                  for name, kind, b, n in zones]  # fmt: skip
        return found
