"""Recording gaps as events: a camera whose mode asks for footage, and whose writer says it paused
(disk full) or failed, gets a `recording_gap` event the moment the recorder sees its status say so
(it looks every POLL_S), with the writer's reason; the event ends when the camera records again,
or no longer asks for footage. Stored in the history and sent on Redis like every event, so the
dashboard, MQTT, webhooks and notifications all hear of it. A gap open when the recorder stops
is taken up again at its next start (from the history), never started twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

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
NOT_RECORDING = ("paused", "failed")


class RecordingGaps:
    def __init__(
        self, settings: Settings, history: EventHistory, cameras: Callable[[], dict[int, Camera]],
        client: redis.Redis,
    ) -> None:  # fmt: skip
        self.history, self.cameras, self.client = history, cameras, client
        self.history_len = settings.events_history_len
        self.open: dict[int, Event] = {}
        self._redis_ok = True

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Until stopping(); database and Redis errors are retried (the caller logs the database's)."""
        self.open = {e.camera_id: e for e in await self.history.open_of_type(EventType.RECORDING_GAP)}
        while not stopping():
            await self.look()
            await asyncio.sleep(POLL_S)

    async def look(self) -> None:
        cameras = self.cameras()
        ids = sorted(set(cameras) | set(self.open))
        try:
            raw = await asyncio.to_thread(self.client.mget, [keys.camera_status(c) for c in ids]) if ids else []
        except redis.RedisError as e:
            if self._redis_ok:
                log.warning("recording gaps: camera statuses unreadable (retrying): %s", e)
            self._redis_ok = False
            return
        self._redis_ok = True
        for camera_id, record in zip(ids, raw, strict=True):
            status = _decoded(record)
            camera = cameras.get(camera_id)
            wants = camera is not None and camera.enabled and camera.record.active
            gap = self.open.get(camera_id)
            if gap is None and wants and status is not None and status.recording in NOT_RECORDING:
                await self._start(camera_id, status.recording_error or status.recording or "not recording")
            elif gap is not None and (not wants or (status is not None and status.recording == "recording")):
                await self._end(gap)

    async def _start(self, camera_id: int, reason: str) -> None:
        now = time.time()
        event = Event(f"{camera_id}-{uuid.uuid4().hex[:16]}", camera_id, EventType.RECORDING_GAP, EventPhase.START,
                      now, None, None, None, 0, False, now, reason=reason[:200])  # fmt: skip
        await self._publish(event)
        self.open[camera_id] = event
        log.warning("camera=%d recording gap started: %s (%s)", camera_id, reason, event.id)

    async def _end(self, gap: Event) -> None:
        now = time.time()
        ended = Event(gap.id, gap.camera_id, gap.type, EventPhase.END, gap.started_at_s, now, None, None, 0, False,
                      now, reason=gap.reason)  # fmt: skip
        await self._publish(ended)
        del self.open[gap.camera_id]
        log.info("camera=%d recording again after a %.1f s gap (%s)", gap.camera_id, now - gap.started_at_s, gap.id)

    async def _publish(self, event: Event) -> None:
        """Stored first (what is promised to be kept), then sent live (best effort: the history has it)."""
        await self.history.store([StoredEvent(event, None)])
        try:
            await asyncio.to_thread(self._send, event)
        except redis.RedisError as e:
            log.warning("camera=%d %s not sent live (stored): %s", event.camera_id, event.type, e)

    def _send(self, event: Event) -> None:
        pipe = self.client.pipeline(transaction=False)
        queue_event(pipe, event, self.history_len)
        pipe.execute()


def _decoded(record: bytes | str | None) -> CameraStatus | None:
    if record is None:
        return None
    try:
        return CameraStatus.decode(record)
    except MessageError:
        return None
