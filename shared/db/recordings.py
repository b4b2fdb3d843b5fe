"""The recordings index in the database: one row per finished segment file (shared.recordings).

The recorder (python -m recorder) writes it; the gateway reads it for the timeline and clips.
It can always be rebuilt from the files. Raises SQLAlchemyError or DatabaseUnavailable when the
database fails or cannot be reached.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, delete, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.engine import connect
from shared.db.schema import events, recordings
from shared.detections import HEALTH_TYPE_NAMES, EventType
from shared.labels import DETECTION_TYPES

PERSON_TYPES = (str(EventType.PERSON), str(EventType.FACE))


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    camera_id: int
    start_ms: int
    end_ms: int
    bytes: int
    path: str  # relative to the recordings folder of its host
    events: bool
    motion: bool
    decided: bool
    host: str = ""  # whose disk holds it: "" for the folder every host shares (shared.db.recording_hosts)


@dataclass(frozen=True, slots=True)
class Marker:
    """An event on the timeline (motion too), in Unix seconds; `end_s` None while it lasts."""

    id: str
    type: str
    start_s: float
    end_s: float | None


@dataclass(frozen=True, slots=True)
class Span:
    """An event's type, label, reason and time span (Unix seconds; `end_s` None while it lasts)."""

    type: str
    label: str | None
    reason: str | None
    start_s: float
    end_s: float | None


def _segment(row: Row[Any]) -> Segment:
    return Segment(row.id, row.camera_id, row.start_ms, row.end_ms, row.bytes, row.path, bool(row.events),
                   bool(row.motion), bool(row.decided), row.host)  # fmt: skip


class RecordingIndex:
    """`host` scopes a recorder to its own disk's rows (its add, paths, passes, retention and sizes);
    None (the gateway's) reads every host's."""

    def __init__(self, engine: AsyncEngine, host: str | None = None) -> None:
        self.engine = engine
        self.host = host

    def _own(self, query: Select[Any]) -> Select[Any]:
        return query if self.host is None else query.where(recordings.c.host == self.host)

    def _connect(self, write: bool = False) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        return connect(self.engine, write)

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Index finished segments: dicts of camera_id, start_ms, end_ms, bytes, path (events, motion
        and decided start false). A path indexed already is left as it is."""
        if not rows:
            return
        async with self._connect(write=True) as connection:
            known = set((await connection.scalars(
                self._own(select(recordings.c.path).where(recordings.c.path.in_([r["path"] for r in rows])))
            )).all())  # fmt: skip
            new = [{"events": False, "motion": False, "decided": False, "host": self.host or "", **r}
                   for r in rows if r["path"] not in known]  # fmt: skip
            if new:
                await connection.execute(recordings.insert(), new)

    async def paths(self) -> dict[str, int]:
        """Every indexed path, with its row id."""
        async with self._connect() as connection:
            rows = await connection.execute(self._own(select(recordings.c.path, recordings.c.id)))
            return {r.path: r.id for r in rows}

    async def remove(self, ids: Sequence[int]) -> None:
        if ids:
            async with self._connect(write=True) as connection:
                await connection.execute(delete(recordings).where(recordings.c.id.in_(list(ids))))

    async def undecided(self, camera_id: int, ended_before_ms: int) -> list[Segment]:
        query = self._own(select(recordings).where(
            recordings.c.camera_id == camera_id, recordings.c.decided.is_(False), recordings.c.end_ms < ended_before_ms
        )).order_by(recordings.c.start_ms)  # fmt: skip
        async with self._connect() as connection:
            return [_segment(r) for r in await connection.execute(query)]

    async def mark(self, segment_id: int, with_events: bool, with_motion: bool, decided: bool) -> None:
        async with self._connect(write=True) as connection:
            await connection.execute(
                update(recordings).where(recordings.c.id == segment_id)
                .values(events=with_events, motion=with_motion, decided=decided)
            )  # fmt: skip

    async def overlaps(self, camera_id: int, start_ms: int, end_ms: int, pre_s: float, post_s: float) -> set[str]:
        """Types of the camera's events whose span, widened by pre_s before and post_s after, meets
        [start_ms, end_ms] (an event still open reaches to now), and the labels of those that are detections
        (shared.labels.matches: a filter's label picks detections, not the rules' events)."""
        start_s, end_s = start_ms / 1000, end_ms / 1000
        query = select(events.c.type, events.c.label).distinct().where(
            events.c.camera_id == camera_id, events.c.type.not_in(HEALTH_TYPE_NAMES),
            events.c.started_at - pre_s < end_s,
            or_(events.c.ended_at.is_(None), events.c.ended_at + post_s > start_s),
        )  # fmt: skip
        async with self._connect() as connection:
            rows = (await connection.execute(query)).all()
        labels = {row.label for row in rows if row.label is not None and row.type in DETECTION_TYPES}
        return {row.type for row in rows} | labels

    async def oldest(self, limit: int, with_events: bool) -> list[Segment]:
        """The oldest segments that overlap no event (or only those that do)."""
        query = self._own(select(recordings).where(recordings.c.events.is_(with_events)))
        query = query.order_by(recordings.c.start_ms)
        async with self._connect() as connection:
            return [_segment(r) for r in await connection.execute(query.limit(limit))]

    async def expired(self, camera_id: int, footage_before_ms: int, events_before_ms: int, limit: int) -> list[Segment]:
        """The camera's segments past their age: footage without events older than the first
        bound, with events older than the second."""
        query = self._own(select(recordings)).where(
            recordings.c.camera_id == camera_id,
            or_(
                (recordings.c.events.is_(False)) & (recordings.c.end_ms < footage_before_ms),
                (recordings.c.events.is_(True)) & (recordings.c.end_ms < events_before_ms),
            ),
        ).order_by(recordings.c.start_ms).limit(limit)  # fmt: skip
        async with self._connect() as connection:
            return [_segment(r) for r in await connection.execute(query)]

    async def total_bytes(self) -> int:
        async with self._connect() as connection:
            return int(await connection.scalar(self._own(select(func.coalesce(func.sum(recordings.c.bytes), 0)))) or 0)

    async def between(self, camera_id: int | None, start_ms: int, end_ms: int) -> list[Segment]:
        """Segments that meet [start_ms, end_ms], by camera and start."""
        query = select(recordings).where(recordings.c.start_ms < end_ms, recordings.c.end_ms > start_ms)
        if camera_id is not None:
            query = query.where(recordings.c.camera_id == camera_id)
        async with self._connect() as connection:
            rows = await connection.execute(query.order_by(recordings.c.camera_id, recordings.c.start_ms))
            return [_segment(r) for r in rows]

    async def ranges(
        self, camera_id: int | None, start_ms: int, end_ms: int, gap_ms: int, limit: int
    ) -> list[tuple[int, int, int, int]]:
        """(camera id, start ms, end ms, bytes) of the recorded ranges that meet [start_ms, end_ms]:
        segments less than `gap_ms` apart merged, in the database (a month of a camera is a quarter of
        a million segments: they never come into memory), by camera and start; at most `limit`."""
        r = recordings
        previous_end = func.lag(r.c.end_ms).over(partition_by=r.c.camera_id, order_by=r.c.start_ms)
        starts = case((r.c.start_ms - previous_end <= gap_ms, 0), else_=1).label("starts")
        query = select(r.c.camera_id, r.c.start_ms, r.c.end_ms, r.c.bytes, starts).where(
            r.c.start_ms < end_ms, r.c.end_ms > start_ms
        )  # fmt: skip
        if camera_id is not None:
            query = query.where(r.c.camera_id == camera_id)
        marked = query.subquery()
        numbered = select(marked, func.sum(marked.c.starts).over(
            partition_by=marked.c.camera_id, order_by=marked.c.start_ms).label("range_no")).subquery()  # fmt: skip
        first = func.min(numbered.c.start_ms)
        merged = (
            select(numbered.c.camera_id, first, func.max(numbered.c.end_ms), func.sum(numbered.c.bytes))
            .group_by(numbered.c.camera_id, numbered.c.range_no)
            .order_by(numbered.c.camera_id, first)
            .limit(limit)
        )
        async with self._connect() as connection:
            return [(int(a), int(b), int(c), int(d)) for a, b, c, d in await connection.execute(merged)]

    async def markers(self, camera_id: int | None, start_s: float, end_s: float) -> list[tuple[int, Marker]]:
        """(camera id, event) of the events that meet [start_s, end_s]."""
        query = select(events.c.camera_id, events.c.id, events.c.type, events.c.started_at, events.c.ended_at).where(
            events.c.started_at <= end_s, or_(events.c.ended_at.is_(None), events.c.ended_at >= start_s),
            events.c.type.not_in(HEALTH_TYPE_NAMES),  # a gap is where there is no footage to mark
        )  # fmt: skip
        if camera_id is not None:
            query = query.where(events.c.camera_id == camera_id)
        async with self._connect() as connection:
            rows = await connection.execute(query.order_by(events.c.started_at).limit(10000))
            return [(r.camera_id, Marker(r.id, r.type, r.started_at, r.ended_at)) for r in rows]

    async def spans(self, camera_id: int, start_s: float, end_s: float) -> list[Span]:
        """Every event of the camera that meets [start_s, end_s], health ones included: what its
        recording mode asked for, and the known causes of its gaps (shared.coverage)."""
        query = select(events.c.type, events.c.label, events.c.reason, events.c.started_at, events.c.ended_at).where(
            events.c.camera_id == camera_id, events.c.started_at <= end_s,
            or_(events.c.ended_at.is_(None), events.c.ended_at >= start_s),
        )  # fmt: skip
        async with self._connect() as connection:
            rows = await connection.execute(query.order_by(events.c.started_at).limit(100_000))
            return [Span(r.type, r.label, r.reason, r.started_at, r.ended_at) for r in rows]

    async def summary(self) -> dict[int, tuple[int, int, int]]:
        """Per camera: (bytes, segments, oldest start ms)."""
        query = select(
            recordings.c.camera_id, func.sum(recordings.c.bytes), func.count(), func.min(recordings.c.start_ms)
        ).group_by(recordings.c.camera_id)  # fmt: skip
        async with self._connect() as connection:
            return {r[0]: (int(r[1] or 0), int(r[2]), int(r[3])) for r in await connection.execute(query)}

    async def everything(self) -> list[Segment]:
        async with self._connect() as connection:
            rows = await connection.execute(
                self._own(select(recordings)).order_by(recordings.c.camera_id, recordings.c.start_ms)
            )
            return [_segment(r) for r in rows]

    async def clear(self) -> None:
        async with self._connect(write=True) as connection:
            query = delete(recordings)
            await connection.execute(query if self.host is None else query.where(recordings.c.host == self.host))

    async def remove_camera(self, camera_id: int) -> None:
        async with self._connect(write=True) as connection:
            await connection.execute(delete(recordings).where(recordings.c.camera_id == camera_id))
