"""Event history in the database: stored idempotently by event id, listed newest first, expired.

Storing is an upsert keyed by the analyzer's event id, so a message sent twice (a writer that
retries, a worker that restarts, two writers) leaves one row. A row only moves forward: once an
event's `end` is stored, a late or repeated `start` changes nothing, and its snapshot neither.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.engine import connect
from shared.db.schema import event_snapshots, events
from shared.detections import HEALTH_TYPE_NAMES, Box, Event, EventPhase, EventType

Cursor = tuple[int, int]  # (started_us, seq) of the last event of a page

_COLUMNS = [c for c in events.c if c.name != "seq"]
_UPDATED = [c.name for c in _COLUMNS if c.name not in ("id", "started_at", "started_us", "camera_id", "type")]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event: Event
    snapshot: bytes | None


def _insert(connection: AsyncConnection, table: Any) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT, which both engines have (SQLAlchemy builds it per dialect)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _row(event: Event, now_s: float) -> dict[str, Any]:
    box = event.box
    return {
        "id": event.id, "camera_id": event.camera_id, "type": str(event.type), "phase": str(event.phase),
        "started_at": event.started_at_s, "started_us": round(event.started_at_s * 1e6),
        "ended_at": event.ended_at_s, "score": event.score,
        "box": {"x": box.x, "y": box.y, "w": box.w, "h": box.h} if box is not None else None,
        "frames": event.frames, "has_snapshot": event.snapshot, "published_at": event.published_at_s,
        "stored_at": now_s, "identity": event.identity, "similarity": event.similarity,
        "label": event.label, "stationary": event.stationary, "reason": event.reason, "zone": event.zone,
        "line": event.line, "direction": event.direction, "track_id": event.track_id,
    }  # fmt: skip


def _event(row: Row[Any]) -> Event:
    box = row.box
    return Event(
        id=row.id, camera_id=row.camera_id, type=EventType(row.type), phase=EventPhase(row.phase),
        started_at_s=row.started_at, ended_at_s=row.ended_at, score=row.score,
        box=Box(box["x"], box["y"], box["w"], box["h"]) if box else None,
        frames=row.frames, snapshot=bool(row.has_snapshot), published_at_s=row.published_at,
        identity=row.identity, similarity=row.similarity, label=row.label, stationary=bool(row.stationary),
        reason=row.reason, zone=row.zone, line=row.line, direction=row.direction, track_id=row.track_id,
    )  # fmt: skip


class EventHistory:
    """Raises SQLAlchemyError or DatabaseUnavailable when the database fails or cannot be reached."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def _connect(self, write: bool = False) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        return connect(self.engine, write)

    async def store(self, batch: Sequence[StoredEvent]) -> None:
        """Store messages in the order given, in one transaction. Raises SQLAlchemyError."""
        if not batch:
            return
        now_s = time.time()
        async with self._connect(write=True) as connection:
            upsert = _insert(connection, events)
            upsert = upsert.on_conflict_do_update(
                index_elements=[events.c.id],
                set_={
                    **{name: upsert.excluded[name] for name in _UPDATED},
                    "has_snapshot": or_(events.c.has_snapshot, upsert.excluded.has_snapshot),
                },
                where=events.c.phase == str(EventPhase.START),
            )
            await connection.execute(upsert, [_row(s.event, now_s) for s in batch])
            # The end's snapshot is the event's best moment; a start's is kept only if there is none.
            final = [s for s in batch if s.snapshot is not None and s.event.phase is EventPhase.END]
            first = [s for s in batch if s.snapshot is not None and s.event.phase is EventPhase.START]
            if first:
                keep = _insert(connection, event_snapshots).on_conflict_do_nothing(index_elements=["event_id"])
                await connection.execute(keep, [{"event_id": s.event.id, "jpeg": s.snapshot} for s in first])
            if final:
                replace = _insert(connection, event_snapshots)
                replace = replace.on_conflict_do_update(
                    index_elements=["event_id"], set_={"jpeg": replace.excluded.jpeg}
                )
                await connection.execute(replace, [{"event_id": s.event.id, "jpeg": s.snapshot} for s in final])

    async def left_open(self, camera_id: int, started_before_s: float) -> list[Event]:
        """A camera's detection events that started before a time and have no end: their worker died
        with them. (Health events are the recorder's, and end when what they say is over.)"""
        query = select(*_COLUMNS).where(
            events.c.camera_id == camera_id, events.c.phase == str(EventPhase.START),
            events.c.started_at < started_before_s, events.c.type.not_in(HEALTH_TYPE_NAMES),
        )  # fmt: skip
        async with self._connect() as connection:
            return [_event(row) for row in (await connection.execute(query)).all()]

    async def open_of_type(self, event_type: EventType) -> list[Event]:
        """Every camera's events of a type still open (the recorder's gaps, at its start)."""
        query = select(*_COLUMNS).where(events.c.type == str(event_type), events.c.phase == str(EventPhase.START))
        async with self._connect() as connection:
            return [_event(row) for row in (await connection.execute(query)).all()]

    async def get(self, event_id: str) -> Event | None:
        async with self._connect() as connection:
            row = (await connection.execute(select(*_COLUMNS).where(events.c.id == event_id))).first()
        return _event(row) if row is not None else None

    async def snapshot(self, event_id: str) -> bytes | None:
        async with self._connect() as connection:
            jpeg = await connection.scalar(select(event_snapshots.c.jpeg).where(event_snapshots.c.event_id == event_id))
        return bytes(jpeg) if jpeg is not None else None

    async def page(  # noqa: PLR0913 - a query's filters, each optional
        self, camera: int | None, kind: str | None, since_s: float | None, until_s: float | None,
        limit: int, cursor: Cursor | None, identity: str | None = None, label: str | None = None,
    ) -> tuple[list[Event], Cursor | None]:  # fmt: skip
        """Events newest first by start, and the cursor of the next page (None: this is the last)."""
        query = select(events.c.seq, *_COLUMNS).order_by(events.c.started_us.desc(), events.c.seq.desc())
        if camera is not None:
            query = query.where(events.c.camera_id == camera)
        if identity is not None:
            query = query.where(events.c.identity == identity)
        if kind is not None:
            query = query.where(events.c.type == kind)
        if label is not None:
            query = query.where(events.c.label == label)
        if since_s is not None:  # the indexed whole microseconds narrow it, the exact float decides
            query = query.where(events.c.started_us >= math.floor(since_s * 1e6), events.c.started_at >= since_s)
        if until_s is not None:
            query = query.where(events.c.started_us <= math.ceil(until_s * 1e6), events.c.started_at <= until_s)
        if cursor is not None:
            started_us, seq = cursor
            query = query.where(
                or_(events.c.started_us < started_us, and_(events.c.started_us == started_us, events.c.seq < seq))
            )
        async with self._connect() as connection:
            rows = (await connection.execute(query.limit(limit + 1))).all()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (rows[-1].started_us, rows[-1].seq) if more and rows else None
        return [_event(r) for r in rows], next_cursor

    async def count(self) -> int:
        async with self._connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(events)) or 0)

    async def delete_started_before(self, before_s: float, batch: int = 500) -> int:
        """Delete up to `batch` events (and their snapshots) that started before `before_s`, oldest
        first, in one short transaction; how many went. Call again until it returns less than batch."""
        oldest = (
            select(events.c.seq).where(events.c.started_us < math.floor(before_s * 1e6))
            .order_by(events.c.started_us, events.c.seq).limit(batch)
        )  # fmt: skip
        async with self._connect(write=True) as connection:
            expired_ids = select(events.c.id).where(events.c.seq.in_(oldest.scalar_subquery()))
            await connection.execute(delete(event_snapshots).where(event_snapshots.c.event_id.in_(expired_ids)))
            result = await connection.execute(delete(events).where(events.c.seq.in_(oldest.scalar_subquery())))
        return int(result.rowcount or 0)

    async def delete_camera(self, camera_id: int) -> None:
        """Every event of a camera, with its snapshots (a camera deleted with purge)."""
        async with self._connect(write=True) as connection:
            ids = select(events.c.id).where(events.c.camera_id == camera_id)
            await connection.execute(delete(event_snapshots).where(event_snapshots.c.event_id.in_(ids)))
            await connection.execute(delete(events).where(events.c.camera_id == camera_id))
