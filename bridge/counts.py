"""The rules' counts on MQTT (docs/integrations.md): each line's crossings each way since local
midnight, `<prefix>/<id>/lines/<name>/in` and `.../out`, and each zone's occupancy now,
`<prefix>/<id>/zones/<name>/occupancy`, all retained. The totals start from the event history (so a
bridge restarted mid-day goes on from where the day is), follow the live `line_crossed` events, and
go back to 0 at midnight; occupancy is what the worker analysing the camera last wrote."""

from __future__ import annotations

import datetime
import logging

import redis
import redis.asyncio as aioredis
from sqlalchemy.exc import SQLAlchemyError

from bridge.mqtt import MqttTarget
from shared import keys
from shared.cameras import Camera
from shared.db.counts import RuleCounts
from shared.db.engine import DatabaseUnavailable
from shared.detections import Event, EventPhase, EventType
from shared.messages import MessageError
from shared.status import ZoneOccupancy

log = logging.getLogger(__name__)

WAYS = ("in", "out")


def midnight_s(now: datetime.datetime | None = None) -> float:
    """The last local midnight, Unix seconds."""
    now = now or datetime.datetime.now().astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class RuleTopics:
    def __init__(self, client: aioredis.Redis, mqtt: MqttTarget, counts: RuleCounts | None) -> None:
        self.client, self.mqtt, self.counts = client, mqtt, counts
        self.totals: dict[tuple[int, str, str], int] = {}  # (camera, line, way): since `day_s`
        self.day_s = midnight_s()

    async def load(self, cameras: dict[int, Camera]) -> None:
        """Today's totals of every camera's lines, from the history, and shown."""
        self.day_s = midnight_s()
        totals: dict[tuple[int, str, str], int] = {}
        for camera_id, camera in cameras.items():
            for line in camera.analysis.lines:
                for way in WAYS:
                    totals[(camera_id, line.name, way)] = self.totals.get((camera_id, line.name, way), 0)
            if self.counts is None or not camera.analysis.lines:
                continue
            try:
                found = await self.counts.counts(camera_id, self.day_s, self.day_s + 2 * 86400, 86400)
            except (SQLAlchemyError, DatabaseUnavailable) as e:
                log.warning("mqtt: today's counts of camera %d unreadable (counting on from what is shown): %s",
                            camera_id, type(e).__name__)  # fmt: skip
                continue
            for count in found:
                if count.kind in WAYS and (camera_id, count.name, count.kind) in totals and count.bucket == 0:
                    totals[(camera_id, count.name, count.kind)] = count.count
        self.totals = totals
        for (camera_id, name, way), total in totals.items():
            await self.mqtt.set_state(camera_id, f"lines/{name}/{way}", str(total))

    async def event(self, event: Event) -> None:
        if event.type is not EventType.LINE_CROSSED or event.phase is not EventPhase.START or event.line is None:
            return
        await self._new_day()
        key = (event.camera_id, event.line, event.direction or "in")
        if key in self.totals and event.started_at_s >= self.day_s:
            self.totals[key] += 1
            await self.mqtt.set_state(event.camera_id, f"lines/{event.line}/{key[2]}", str(self.totals[key]))

    async def occupancy(self, camera: Camera) -> None:
        """Each zone's occupancy now (0 when no worker says: nobody is being counted in it)."""
        if not camera.analysis.zones:
            return
        await self._new_day()
        try:
            raw = await self.client.get(keys.zone_occupancy(camera.id))
            zones = ZoneOccupancy.decode(raw).zones if raw else {}
        except (redis.RedisError, MessageError):
            zones = {}
        for zone in camera.analysis.zones:
            await self.mqtt.set_state(camera.id, f"zones/{zone.name}/occupancy", str(zones.get(zone.name, 0)))

    async def _new_day(self) -> None:
        today_s = midnight_s()
        if today_s == self.day_s:
            return
        self.day_s = today_s
        for key in self.totals:
            self.totals[key] = 0
            await self.mqtt.set_state(key[0], f"lines/{key[1]}/{key[2]}", "0")
