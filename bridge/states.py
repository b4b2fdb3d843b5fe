"""Each camera's states as MQTT shows them, followed live (not from a cursor: a state is what is
true now): motion ON/OFF from the events; people and faces in view from the detections while
their event lasts (the most seen in any frame of the last second, so one missed frame does not
flicker) and 0 when it ends; the latest event's snapshot; the ingest state; detection and
recording switched on or off."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio as aioredis

from bridge.follower import streams_of
from bridge.mqtt import MqttTarget
from shared import keys
from shared.cameras import Camera
from shared.detections import Event, EventPhase, EventType, FrameDetections
from shared.messages import MessageError
from shared.status import CameraState, CameraStatus

log = logging.getLogger(__name__)

WINDOW_S = 1.0
STATUS_EVERY_S = 2.0
RETRY_S = 2.0


class CameraStates:
    def __init__(self, client: aioredis.Redis, mqtt: MqttTarget, snapshot: Callable[[Event], Awaitable[bytes | None]],
                 stop: Callable[[], bool]) -> None:  # fmt: skip
        self.client, self.mqtt, self.snapshot, self.stop = client, mqtt, snapshot, stop
        self.cameras: dict[int, Camera] = {}
        self.active: dict[tuple[int, str], bool] = {}  # (camera, person|face) -> its event lasts
        self.seen: dict[tuple[int, str], deque[tuple[float, int]]] = defaultdict(deque)  # (time, count)

    async def set_cameras(self, cameras: list[Camera]) -> None:
        self.cameras = {c.id: c for c in cameras}
        await self.mqtt.set_cameras({c.id: c.name for c in cameras})
        for camera in cameras:
            detecting = camera.enabled and camera.analysis.enabled
            await self.mqtt.set_state(camera.id, "detect/state", "ON" if detecting else "OFF")
            await self.mqtt.set_state(camera.id, "record/state", "ON" if camera.record.active else "OFF")
            if not detecting:  # no analyzer will end what was in view
                for kind in ("person", "face"):
                    self.active[(camera.id, kind)] = False
                    await self.mqtt.set_state(camera.id, kind, "0")
                await self.mqtt.set_state(camera.id, "motion", "OFF")
            for kind in ("motion", "person", "face"):  # a state from the start
                if f"{self.mqtt.prefix}/{camera.id}/{kind}" not in self.mqtt.states:
                    await self.mqtt.set_state(camera.id, kind, "OFF" if kind == "motion" else "0")

    async def run(self) -> None:
        await asyncio.gather(self._events(), self._detections(), self._statuses())

    async def _events(self) -> None:
        place = "$"
        while not self.stop():
            try:
                answer = await self.client.xread({keys.EVENTS_STREAM: place}, count=100, block=1000)
            except redis.RedisError:
                await asyncio.sleep(RETRY_S)
                continue
            for _stream, entries in streams_of(answer):
                for raw_id, fields in entries:
                    place = raw_id.decode()
                    try:
                        event = Event.from_entry(fields)
                    except MessageError:
                        continue
                    if event.camera_id in self.cameras:
                        await self._event(event)

    async def _event(self, event: Event) -> None:
        starting = event.phase is EventPhase.START
        if event.type is EventType.MOTION:
            await self.mqtt.set_state(event.camera_id, "motion", "ON" if starting else "OFF")
        else:
            kind = event.type.value
            self.active[(event.camera_id, kind)] = starting
            count = max(1, self._count(event.camera_id, kind)) if starting else 0
            await self.mqtt.set_state(event.camera_id, kind, str(count))
        if event.snapshot:
            jpeg = await self.snapshot(event)
            if jpeg is not None:
                await self.mqtt.set_state(event.camera_id, "snapshot", jpeg)

    def _count(self, camera_id: int, kind: str) -> int:
        window = self.seen[(camera_id, kind)]
        while window and window[0][0] < time.monotonic() - WINDOW_S:
            window.popleft()
        return max((count for _at, count in window), default=0)

    async def _detections(self) -> None:
        places: dict[int, str] = {}
        while not self.stop():
            streams = {keys.detections_stream(i): places.get(i, "$") for i in self.cameras}
            if not streams:
                await asyncio.sleep(1.0)
                continue
            try:
                answer = await self.client.xread(streams, count=50, block=1000)  # type: ignore[arg-type]
            except redis.RedisError:
                await asyncio.sleep(RETRY_S)
                continue
            for stream, entries in streams_of(answer):
                camera_id = int(stream.decode().split(":")[2])
                for raw_id, fields in entries:
                    places[camera_id] = raw_id.decode()
                    try:
                        found = FrameDetections.from_entry(fields)
                    except MessageError:
                        continue
                    for kind in ("person", "face"):
                        count = sum(1 for o in found.objects if o.label == kind)
                        self.seen[(camera_id, kind)].append((time.monotonic(), count))
                        if self.active.get((camera_id, kind)):
                            await self.mqtt.set_state(camera_id, kind, str(max(1, self._count(camera_id, kind))))
                        else:
                            self._count(camera_id, kind)  # trims the window

    async def _statuses(self) -> None:
        while not self.stop():
            for camera_id, camera in list(self.cameras.items()):
                try:
                    raw = await self.client.get(keys.camera_status(camera_id))
                    state = CameraStatus.decode(raw).state if raw else CameraState.OFFLINE
                except (redis.RedisError, MessageError):
                    state = CameraState.OFFLINE
                await self.mqtt.set_state(camera_id, "status", state.value if camera.enabled else "disabled")
            await asyncio.sleep(STATUS_EVERY_S)
