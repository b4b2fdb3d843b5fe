"""The bridge's loop: the cameras followed from the database, MQTT (when CAMSTREAM_MQTT_URL is set)
with the cameras' live states, the webhooks and notification targets admins configure (looked up
every few seconds), each target walking the events stream on its own (bridge/follower.py), and
the status of every target written to Redis for /api/system, the dashboard and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from typing import Any

import redis
import redis.asyncio as aioredis
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bridge.follower import Follower
from bridge.mqtt import MqttTarget
from bridge.notify import NotifyTarget
from bridge.states import CameraStates
from bridge.target import Delivery, Target
from bridge.webhooks import WebhookTarget
from shared import keys
from shared.cameras import Camera
from shared.db.accounts import Accounts
from shared.db.cameras import read_cameras, revision, save_camera, stored_definition
from shared.db.counts import RuleCounts
from shared.db.engine import DatabaseUnavailable, connect, retrying
from shared.db.events import EventHistory
from shared.db.integrations import Integrations, StoredIntegration
from shared.db.watch import follow_cameras
from shared.detections import Event
from shared.integrations import NotifyDefinition, WebhookDefinition
from shared.outbound import OutboundPolicy
from shared.secret_box import SecretBox
from shared.settings import ConfigError, Settings
from shared.status import BridgeStatus

log = logging.getLogger(__name__)

LOOKUP_EVERY_S = 2.0
STATUS_TTL_S = 10
SNAPSHOT_WAIT_S = 3.0  # the analyzer's history writer may store the picture just after the event


class Bridge:
    def __init__(self, settings: Settings, engine: AsyncEngine, client: aioredis.Redis, box: SecretBox) -> None:
        self.settings, self.engine, self.client, self.box = settings, engine, client, box
        self.stop_event = threading.Event()  # run's, once it runs
        self.history = EventHistory(engine)
        self.integrations = Integrations(engine, box)
        self.cameras: dict[int, Camera] = {}
        self.mqtt = MqttTarget(settings, self.command, self.camera_name, self.stopping) if settings.mqtt_url else None
        self.states = (CameraStates(client, self.mqtt, self.snapshot, self.stopping, self.history, RuleCounts(engine))
                       if self.mqtt else None)  # fmt: skip
        self.targets: dict[str, tuple[Target, asyncio.Task[None]]] = {}
        self._definitions: dict[str, dict[str, Any]] = {}
        self._unusable: dict[str, dict[str, Any]] = {}
        self._cursors_swept = False  # stale cursors are dropped at the first lookup, then as targets go
        self.started_at = time.time()
        self.outbound = OutboundPolicy.of(settings.outbound_deny, settings.outbound_allow)
        self.delivery = Delivery(settings.public_url, self.camera_name, self.snapshot, self.stopping, self.outbound)

    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def camera_name(self, camera_id: int) -> str | None:
        camera = self.cameras.get(camera_id)
        return camera.name if camera else None

    async def snapshot(self, event: Event) -> bytes | None:
        if not event.snapshot:
            return None
        deadline = time.monotonic() + SNAPSHOT_WAIT_S
        while True:
            with contextlib.suppress(SQLAlchemyError, DatabaseUnavailable):
                jpeg = await self.history.snapshot(event.id)
                if jpeg is not None:
                    return jpeg
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.25)

    async def run(self, stop: threading.Event) -> None:
        self.stop_event = stop
        async with connect(self.engine) as connection:
            await self._cameras((await read_cameras(connection, os.environ, self.box)).cameras)
            started = await revision(connection)
        tasks = [
            asyncio.create_task(follow_cameras(self.engine, self.box, self._cameras, self.stopping, started)),
            asyncio.create_task(self._lookup_targets()),
            asyncio.create_task(self._write_status()),
        ]
        if self.mqtt is not None and self.states is not None:
            tasks += [
                asyncio.create_task(self.mqtt.run()),
                asyncio.create_task(self.states.run()),
                asyncio.create_task(
                    Follower(self.mqtt, self.client, self.engine, self.settings.bridge_replay_s, self.stopping).run()
                ),
            ]
        log.info("bridge running: mqtt %s, %d webhook(s) and notification target(s)",
                 self.mqtt.status.label if self.mqtt else "off", len(self.targets))  # fmt: skip
        try:
            while not self.stopping():
                await asyncio.sleep(0.5)
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
        finally:
            if self.mqtt is not None:
                await self.mqtt.close()
            for task in tasks + [t for _target, t in self.targets.values()]:
                task.cancel()
            await asyncio.gather(*tasks, *(t for _target, t in self.targets.values()), return_exceptions=True)
            with contextlib.suppress(redis.RedisError):
                await self.client.delete(keys.bridge_status())

    async def _cameras(self, cameras: list[Camera]) -> None:
        self.cameras = {c.id: c for c in cameras}
        if self.states is not None:
            await self.states.set_cameras(cameras)

    async def command(self, camera_id: int, what: str, on: bool) -> None:
        """MQTT's `<prefix>/<camera>/detect/set` and `/record/set`: stored, so every process follows."""
        field = "analysis" if what == "detect" else "record"

        async def switch(connection: AsyncConnection) -> bool:
            stored = await stored_definition(connection, camera_id)
            if stored is None:
                return False
            section = dict(stored.get(field) or {})
            if section.get("enabled", True) == on:
                return False
            await save_camera(connection, {**stored, field: {**section, "enabled": on}}, new=False)
            return True

        try:
            changed = await retrying(self.engine, switch)
            if changed:  # in the audit log like the same change through the API, by "mqtt"
                await Accounts(self.engine).record(f"camera {what} {'on' if on else 'off'}", "mqtt", str(camera_id),
                                                   "mqtt")  # fmt: skip
        except (SQLAlchemyError, DatabaseUnavailable) as e:
            log.warning("camera=%d %s %s not stored: %s", camera_id, what, "on" if on else "off", type(e).__name__)
            return
        log.info("camera=%d %s switched %s (MQTT)", camera_id, what, "on" if on else "off")

    async def _lookup_targets(self) -> None:
        """Webhooks and notification targets as stored: new ones start, removed ones stop."""
        while not self.stopping():
            try:
                stored = await self.integrations.all()
            except (SQLAlchemyError, DatabaseUnavailable):
                stored = None
            if stored is not None:
                await self._apply_targets(stored)
            await asyncio.sleep(LOOKUP_EVERY_S)

    async def _apply_targets(self, stored: list[StoredIntegration]) -> None:
        wanted = {s.target: s for s in stored}
        stopped = [n for n in self.targets if n not in wanted or wanted[n].definition != self._definitions.get(n)]
        for name in stopped:
            target, task = self.targets.pop(name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if isinstance(target, WebhookTarget):
                await target.close()
        if stopped or not self._cursors_swept:  # now that no follower of a deleted target can write again
            await self._sweep_cursors({s.cursor_key for s in stored})
        for name, integration in wanted.items():
            if name in self.targets:
                continue
            made = self._target(integration)
            if made is None:
                continue
            follower = Follower(made, self.client, self.engine, self.settings.bridge_replay_s, self.stopping,
                                integration.created_at_s, integration.cursor_key)  # fmt: skip
            self.targets[name] = (made, asyncio.create_task(follower.run(), name=name))
            self._definitions[name] = integration.definition

    async def _sweep_cursors(self, kept: set[str]) -> None:
        try:
            dropped = await self.integrations.forget_cursors(kept)
        except (SQLAlchemyError, DatabaseUnavailable):
            return  # the next change tries again
        self._cursors_swept = True
        if dropped:
            log.info("dropped %d cursor(s) of deleted targets", dropped)

    def _target(self, integration: StoredIntegration) -> Target | None:
        try:
            fields = self.integrations.opened_definition(integration)
            if integration.kind == "webhook":
                return WebhookTarget(integration.target, integration.name, WebhookDefinition.model_validate(fields),
                                     self.settings.webhook_retry_s, self.delivery)  # fmt: skip
            return NotifyTarget(integration.target, integration.name, NotifyDefinition.model_validate(fields),
                                self.settings.notify_cooldown_s, self.delivery)  # fmt: skip
        except (ConfigError, ValidationError) as e:
            if self._unusable.get(integration.target) != integration.definition:  # said once
                log.error("%s cannot be used: %s", integration.target, str(e).splitlines()[0])
            self._unusable[integration.target] = integration.definition
            return None

    def status(self) -> BridgeStatus:
        targets = [t.status for t, _task in self.targets.values()]
        if self.mqtt is not None:
            targets.insert(0, self.mqtt.status)
        return BridgeStatus(self.started_at, time.time(), targets)

    async def _write_status(self) -> None:
        while not self.stopping():
            with contextlib.suppress(redis.RedisError):
                await self.client.set(keys.bridge_status(), self.status().encode(), ex=STATUS_TTL_S)
            await asyncio.sleep(LOOKUP_EVERY_S)
