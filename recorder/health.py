"""What every camera-health watcher of the recorder shares (recording gaps, offline cameras): the
cameras' statuses, read once every POLL_S for all of them (`CameraHealth`); one event per camera at
a time with its start and end, stored in the history first and then sent on Redis like every event
(so the dashboard, MQTT, webhooks and notifications hear of it); and the events left open at a
restart taken up again, never twice."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import ClassVar

import redis

from shared import keys
from shared.cameras import Camera
from shared.db.events import EventHistory, StoredEvent
from shared.detections import Event, EventPhase, EventType
from shared.event_bus import queue_event
from shared.messages import MessageError
from shared.settings import Settings
from shared.status import CameraStatus

log = logging.getLogger(__name__)

POLL_S = 0.5


class HealthWatch:
    kind: ClassVar[EventType]

    def __init__(self, settings: Settings, history: EventHistory, client: redis.Redis) -> None:
        self.settings, self.history, self.client = settings, history, client
        self.open: dict[int, Event] = {}

    async def take_up(self) -> None:
        """The events of this kind left open (by a recorder that stopped): still this watcher's."""
        self.open = {e.camera_id: e for e in await self.history.open_of_type(self.kind)}

    async def judge(self, camera_id: int, camera: Camera | None, status: CameraStatus | None, now_s: float) -> None:
        """Start or end the camera's event from what its status says now."""
        raise NotImplementedError

    async def start(self, camera_id: int, reason: str, at_s: float) -> Event:
        event = self._new(camera_id, reason, at_s)
        await self._publish(event)
        self.open[camera_id] = event
        return event

    async def end(self, event: Event, at_s: float) -> None:
        await self._publish(_ended(event, at_s))
        del self.open[event.camera_id]

    async def happened(self, camera_id: int, reason: str, start_s: float, end_s: float) -> Event:
        """An event already over when it is known (its start and end sent together); the camera's open
        one, if any, goes on."""
        event = self._new(camera_id, reason, start_s)
        await self._publish(event)
        await self._publish(_ended(event, end_s))
        return event

    def _new(self, camera_id: int, reason: str, at_s: float) -> Event:
        return Event(f"{camera_id}-{uuid.uuid4().hex[:16]}", camera_id, self.kind, EventPhase.START, at_s, None, None,
                     None, 0, False, time.time(), reason=reason[:200])  # fmt: skip

    async def _publish(self, event: Event) -> None:
        """Stored first (what is promised to be kept), then sent live (best effort: the history has it)."""
        await self.history.store([StoredEvent(event, None)])
        try:
            await asyncio.to_thread(self._send, event)
        except redis.RedisError as e:
            log.warning("camera=%d %s not sent live (stored): %s", event.camera_id, event.type, e)

    def _send(self, event: Event) -> None:
        pipe = self.client.pipeline(transaction=False)
        queue_event(pipe, event, self.settings.events_history_len)
        pipe.execute()


class CameraHealth:
    """Every watcher judges every camera from one read of the cameras' statuses every POLL_S."""

    def __init__(self, watchers: list[HealthWatch], cameras: Callable[[], dict[int, Camera]],
                 client: redis.Redis) -> None:  # fmt: skip
        self.watchers, self.cameras, self.client = watchers, cameras, client
        self._redis_ok = True

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Until stopping(); a database error is the caller's to wait out, Redis's are retried here."""
        for watcher in self.watchers:
            await watcher.take_up()
        while not stopping():
            await self.look()
            await asyncio.sleep(POLL_S)

    async def look(self, now_s: float | None = None) -> None:
        cameras = self.cameras()
        ids = sorted(set(cameras).union(*(w.open for w in self.watchers)))
        try:
            raw = await asyncio.to_thread(self.client.mget, [keys.camera_status(c) for c in ids]) if ids else []
        except redis.RedisError as e:
            if self._redis_ok:
                log.warning("camera health: statuses unreadable (retrying): %s", e)
            self._redis_ok = False
            return
        self._redis_ok = True
        now_s = time.time() if now_s is None else now_s
        for camera_id, record in zip(ids, raw, strict=True):
            status = _decoded(record)
            for watcher in self.watchers:
                await watcher.judge(camera_id, cameras.get(camera_id), status, now_s)


def _ended(event: Event, at_s: float) -> Event:
    return Event(event.id, event.camera_id, event.type, EventPhase.END, event.started_at_s,
                 max(at_s, event.started_at_s), None, None, 0, False, time.time(), reason=event.reason)  # fmt: skip


def _decoded(record: bytes | str | None) -> CameraStatus | None:
    if record is None:
        return None
    try:
        return CameraStatus.decode(record)
    except MessageError:
        return None
