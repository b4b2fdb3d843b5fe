"""Each camera's states as MQTT shows them, followed live (not from a cursor: a state is what is
true now): motion ON/OFF from the events; people, faces and each object label the camera reports
(`<prefix>/<id>/car`) in view from the detections while an event of theirs lasts (the most seen
in any frame of the last second, so one missed frame does not flicker, and at least the events
open) and 0 when the last ends (a parked car's ends when it becomes stationary); the latest
event's snapshot; the ingest state; detection and recording switched on or off; and `problem`, ON
while a health event of the camera (offline, recording stopped) is open."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable

import redis
import redis.asyncio as aioredis
from sqlalchemy.exc import SQLAlchemyError

from bridge.counts import RuleTopics
from bridge.discovery import Device, slug
from bridge.follower import streams_of
from bridge.mqtt import MqttTarget
from shared import keys
from shared.cameras import Camera
from shared.db.counts import RuleCounts
from shared.db.engine import DatabaseUnavailable
from shared.db.events import EventHistory
from shared.detections import PROBLEM_TYPES, Event, EventPhase, EventType, FrameDetections
from shared.messages import MessageError
from shared.status import CameraState, CameraStatus

log = logging.getLogger(__name__)

WINDOW_S = 1.0
STATUS_EVERY_S = 2.0
RETRY_S = 2.0


def _object_labels(camera: Camera) -> tuple[str, ...]:
    return tuple(label for label in camera.analysis.objects if label != "person")


def _device(camera: Camera) -> Device:
    analysis = camera.analysis
    return Device(camera.name, _object_labels(camera), tuple(line.name for line in analysis.lines),
                  tuple(zone.name for zone in analysis.zones))  # fmt: skip


def _counted(camera: Camera) -> tuple[str, ...]:
    """The labels whose counts the camera's topics show: people and faces always, and its objects."""
    return ("person", "face", *_object_labels(camera))


class CameraStates:
    def __init__(self, client: aioredis.Redis, mqtt: MqttTarget, snapshot: Callable[[Event], Awaitable[bytes | None]],
                 stop: Callable[[], bool], history: EventHistory | None = None,
                 counts: RuleCounts | None = None) -> None:  # fmt: skip
        self.client, self.mqtt, self.snapshot, self.stop, self.history = client, mqtt, snapshot, stop, history
        self.rules = RuleTopics(client, mqtt, counts)  # lines' crossings today, zones' occupancy
        self.cameras: dict[int, Camera] = {}
        self.problems: dict[int, dict[str, Event]] = defaultdict(dict)  # camera -> its health events open, by id
        self.open: dict[tuple[int, str], set[str]] = defaultdict(set)  # (camera, label) -> its events open
        self.seen: dict[tuple[int, str], deque[tuple[float, int]]] = defaultdict(deque)  # (time, count)

    async def set_cameras(self, cameras: list[Camera]) -> None:
        self.cameras = {c.id: c for c in cameras}
        await self.mqtt.set_cameras({c.id: _device(c) for c in cameras})
        await self.rules.load(self.cameras)
        for camera in cameras:
            detecting = camera.enabled and camera.analysis.enabled
            await self.mqtt.set_state(camera.id, "detect/state", "ON" if detecting else "OFF")
            await self.mqtt.set_state(camera.id, "record/state", "ON" if camera.record.active else "OFF")
            if not detecting:  # no analyzer will end what was in view
                for label in _counted(camera):
                    self.open[(camera.id, label)].clear()
                    await self.mqtt.set_state(camera.id, slug(label), "0")
                await self.mqtt.set_state(camera.id, "motion", "OFF")
            for level in ("motion", *(slug(label) for label in _counted(camera))):  # a state from the start
                if f"{self.mqtt.prefix}/{camera.id}/{level}" not in self.mqtt.states:
                    await self.mqtt.set_state(camera.id, level, "OFF" if level == "motion" else "0")
            await self._show_problem(camera.id)

    async def run(self) -> None:
        await self._load_problems()
        await asyncio.gather(self._events(), self._detections(), self._statuses())

    async def _load_problems(self) -> None:
        """The health and tamper events open now (the history has them): a problem shown from the start."""
        if self.history is None:
            return
        try:
            for kind in PROBLEM_TYPES:
                for event in await self.history.open_of_type(kind):
                    self.problems[event.camera_id][event.id] = event
        except (SQLAlchemyError, DatabaseUnavailable) as e:
            log.warning("mqtt: open health events unreadable (problems show from the next one): %s", type(e).__name__)
        for camera_id in self.cameras:
            await self._show_problem(camera_id)

    async def _show_problem(self, camera_id: int) -> None:
        """`<prefix>/<id>/problem` ON while a health or tamper event is open, and which in its attributes."""
        open_ = self.problems.get(camera_id, {})
        await self.mqtt.set_state(camera_id, "problem", "ON" if open_ else "OFF")
        problems = [{"type": str(e.type), "reason": e.reason, "since": e.started_at_s} for e in open_.values()]
        await self.mqtt.set_state(camera_id, "problem/attributes", json.dumps({"problems": problems}))

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
        await self.rules.event(event)
        starting = event.phase is EventPhase.START
        camera = self.cameras[event.camera_id]
        if event.type.is_problem:
            if starting:
                self.problems[event.camera_id][event.id] = event
            else:
                self.problems[event.camera_id].pop(event.id, None)
            await self._show_problem(event.camera_id)
        elif event.type is EventType.MOTION:
            await self.mqtt.set_state(event.camera_id, "motion", "ON" if starting else "OFF")
        elif event.label is not None and event.label in _counted(camera):
            open_ = self.open[(event.camera_id, event.label)]
            if starting:
                open_.add(event.id)
            else:
                open_.discard(event.id)
            count = max(len(open_), self._count(event.camera_id, event.label)) if open_ else 0
            await self.mqtt.set_state(event.camera_id, slug(event.label), str(count))
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
                    camera = self.cameras.get(camera_id)
                    for label in _counted(camera) if camera is not None else ():
                        count = sum(1 for o in found.objects if o.label == label)
                        self.seen[(camera_id, label)].append((time.monotonic(), count))
                        open_ = self.open[(camera_id, label)]
                        if open_:
                            shown = max(len(open_), self._count(camera_id, label))
                            await self.mqtt.set_state(camera_id, slug(label), str(shown))
                        else:
                            self._count(camera_id, label)  # trims the window

    async def _statuses(self) -> None:
        while not self.stop():
            for camera_id, camera in list(self.cameras.items()):
                try:
                    raw = await self.client.get(keys.camera_status(camera_id))
                    state = CameraStatus.decode(raw).state if raw else CameraState.OFFLINE
                except (redis.RedisError, MessageError):
                    state = CameraState.OFFLINE
                await self.mqtt.set_state(camera_id, "status", state.value if camera.enabled else "disabled")
                await self.rules.occupancy(camera)
            await asyncio.sleep(STATUS_EVERY_S)
