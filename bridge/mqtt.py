"""MQTT: the events, each camera's states (retained), Home Assistant discovery, and the commands
that switch a camera's detection and recording. docs/integrations.md lists every topic.

One connection with a last will (`<prefix>/available` = `offline`, retained). On every connect:
`online`, the discovery configs (and the clearing of those of cameras that are gone), every
current state, the command subscriptions. While the broker is away nothing queues: on its return
it gets the states as they are then, and the events it missed that are younger than
CAMSTREAM_BRIDGE_REPLAY_S, each once (bridge/follower.py). Reconnects back off 1 s to 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

import aiomqtt

from bridge.discovery import Device, camera_of_topic, configs, node_of, slug
from shared.detections import Event
from shared.integrations import event_payload
from shared.redact import mask_credentials
from shared.settings import Settings
from shared.status import TargetStatus

log = logging.getLogger(__name__)

BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
DISCOVERY_SETTLE_S = 1.0  # retained configs arrive at once after subscribing: wait this long for them
Command = Callable[[int, str, bool], Awaitable[None]]  # camera, "detect" or "record", on


class MqttTarget:
    def __init__(self, settings: Settings, on_command: Command, camera_name: Callable[[int], str | None],
                 stop: Callable[[], bool]) -> None:  # fmt: skip
        assert settings.mqtt_url is not None
        self.url = urlsplit(settings.mqtt_url.get_secret_value())
        self.prefix = settings.mqtt_prefix.rstrip("/")
        self.discovery = settings.mqtt_ha_discovery
        self.discovery_prefix = settings.mqtt_discovery_prefix.rstrip("/")
        self.public_url, self.on_command, self.camera_name, self.stop = (
            settings.public_url, on_command, camera_name, stop
        )  # fmt: skip
        self.status = TargetStatus("mqtt", "mqtt", mask_credentials(settings.mqtt_url.get_secret_value()), False)
        self.states: dict[str, bytes] = {}  # topic -> retained payload, as it is now
        self.cameras: dict[int, Device] = {}  # announced
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()

    # ---- what the rest of the bridge calls

    def wants(self, event: Event) -> bool:
        return True

    async def deliver(self, event: Event) -> bool:
        """`<prefix>/events`: once connected (QoS 1)."""
        payload = json.dumps(event_payload(event, self.camera_name(event.camera_id), self.public_url))
        while not self.stop():
            client = self._client
            if client is None or not self._connected.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._connected.wait(), 1.0)
                continue
            try:
                await client.publish(f"{self.prefix}/events", payload, qos=1, timeout=10)
            except aiomqtt.MqttError as e:
                self.status.failures += 1
                self.status.last_error = str(e)
                self._connected.clear()
                continue
            self.status.succeeded()
            return True
        return False

    async def set_state(self, camera_id: int, name: str, payload: bytes | str) -> None:
        """A retained state (`<prefix>/<camera>/<name>`), published if it changed and the broker is here."""
        topic = f"{self.prefix}/{camera_id}/{name}"
        data = payload.encode() if isinstance(payload, str) else payload
        if self.states.get(topic) == data:
            return
        self.states[topic] = data
        await self._publish(topic, data, retain=True)

    async def set_cameras(self, cameras: dict[int, Device]) -> None:
        """The cameras now: announce the new ones, clear those gone (configs and states), and the
        entities of labels a camera no longer reports."""
        gone = set(self.cameras) - set(cameras)
        changed = {i: d for i, d in cameras.items() if self.cameras.get(i) != d}
        before = self.cameras
        self.cameras = dict(cameras)
        for camera_id in gone:
            await self._forget(camera_id, before[camera_id])
        for camera_id, device in changed.items():
            old = before.get(camera_id)
            if old is not None:
                for label in set(old.labels) - set(device.labels):
                    await self._forget_topics(f"{self.prefix}/{camera_id}/{slug(label)}")
                for line in set(old.lines) - set(device.lines):
                    await self._forget_topics(f"{self.prefix}/{camera_id}/lines/{line}/")
                for zone in set(old.zones) - set(device.zones):
                    await self._forget_topics(f"{self.prefix}/{camera_id}/zones/{zone}/")
            if self.discovery:
                await self._announce(camera_id, device, old)

    # ---- the connection

    async def run(self) -> None:
        attempt = 0
        while not self.stop():
            try:
                async with self._make_client() as client:
                    self._client = client
                    self._connected.set()  # before _on_connect, which publishes through _publish too
                    await self._on_connect(client)
                    attempt = 0
                    self.status.connected, self.status.last_error = True, None
                    log.info("mqtt %s: connected", self.status.label)
                    await self._listen(client)
            except aiomqtt.MqttError as e:
                if self.status.connected or attempt == 0:
                    log.warning("mqtt %s: %s (reconnecting with backoff)", self.status.label, mask_credentials(str(e)))
                self.status.last_error = mask_credentials(str(e))
            finally:
                self._client = None
                self._connected.clear()
                self.status.connected = False
            if self.stop():
                break
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    async def close(self) -> None:
        """Say `offline` before leaving (the will covers a crash)."""
        client = self._client
        if client is not None and self._connected.is_set():
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True, timeout=2)

    def _make_client(self) -> aiomqtt.Client:
        secure = self.url.scheme.lower() == "mqtts"
        return aiomqtt.Client(
            self.url.hostname or "localhost", self.url.port or (8883 if secure else 1883),
            username=unquote(self.url.username) if self.url.username else None,
            password=unquote(self.url.password) if self.url.password else None,
            identifier=f"camstream-bridge-{node_of(self.prefix)}",
            will=aiomqtt.Will(f"{self.prefix}/available", "offline", qos=1, retain=True),
            tls_context=ssl.create_default_context() if secure else None,
            keepalive=30, timeout=10,
        )  # fmt: skip

    async def _on_connect(self, client: aiomqtt.Client) -> None:
        """Announce, republish, subscribe; `online` last, so whoever sees it knows commands are heard."""
        if self.discovery:
            await client.subscribe(f"{self.discovery_prefix}/+/{node_of(self.prefix)}/+/config")
            await self._clear_stale(client)
            for camera_id, device in self.cameras.items():
                await self._announce(camera_id, device)
        for topic, data in list(self.states.items()):
            await client.publish(topic, data, qos=1, retain=True)
        for command in ("detect", "record"):
            await client.subscribe(f"{self.prefix}/+/{command}/set", qos=1)
        await client.publish(f"{self.prefix}/available", "online", qos=1, retain=True)

    async def _clear_stale(self, client: aiomqtt.Client) -> None:
        """Configs retained on the broker that this bridge no longer announces (cameras gone,
        labels a camera no longer reports): cleared."""
        wanted: set[str] = set()
        for camera_id, device in self.cameras.items():
            wanted |= set(configs(self.discovery_prefix, self.prefix, camera_id, device))
        stale: set[str] = set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DISCOVERY_SETTLE_S):
                async for message in client.messages:
                    topic = message.topic.value
                    if message.payload and camera_of_topic(topic) is not None and topic not in wanted:
                        stale.add(topic)
        for topic in stale:
            await client.publish(topic, b"", qos=1, retain=True)
        await client.unsubscribe(f"{self.discovery_prefix}/+/{node_of(self.prefix)}/+/config")
        if stale:
            log.info("mqtt: cleared %d discovery config(s) of cameras or labels that are gone", len(stale))

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parts = message.topic.value.split("/")
            if len(parts) < 3 or parts[-1] != "set" or parts[-2] not in ("detect", "record"):
                continue
            camera_text = parts[-3]
            raw = message.payload if isinstance(message.payload, bytes | str) else b""
            value = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw).strip().upper()
            if not camera_text.isdigit() or int(camera_text) not in self.cameras or value not in ("ON", "OFF"):
                log.warning("mqtt: ignored a command on %s (camera unknown or payload not ON/OFF)",
                            message.topic.value[:200])  # fmt: skip
                continue
            await self.on_command(int(camera_text), parts[-2], value == "ON")

    async def _publish(self, topic: str, data: bytes | str, retain: bool) -> None:
        client = self._client
        if client is None or not self._connected.is_set():
            return  # published on the next connect, as it is then
        try:
            await client.publish(topic, data, qos=1, retain=retain, timeout=10)
        except aiomqtt.MqttError as e:
            self.status.last_error = mask_credentials(str(e))

    async def _announce(self, camera_id: int, device: Device, before: Device | None = None) -> None:
        """Its configs; those of entities it had before and has no more (a label, a line, a zone) cleared."""
        now = configs(self.discovery_prefix, self.prefix, camera_id, device)
        old = configs(self.discovery_prefix, self.prefix, camera_id, before) if before is not None else {}
        for topic in set(old) - set(now):
            await self._publish(topic, b"", retain=True)
        for topic, body in now.items():
            await self._publish(topic, json.dumps(body), retain=True)

    async def _forget_topics(self, start: str) -> None:
        """States the camera no longer has (a label it stopped reporting, a line or zone removed): cleared."""
        for topic in [t for t in self.states if t == start or (start.endswith("/") and t.startswith(start))]:
            del self.states[topic]
            await self._publish(topic, b"", retain=True)

    async def _forget(self, camera_id: int, device: Device) -> None:
        if self.discovery:
            for config in configs(self.discovery_prefix, self.prefix, camera_id, device):
                await self._publish(config, b"", retain=True)
        for topic in [t for t in self.states if t.startswith(f"{self.prefix}/{camera_id}/")]:
            del self.states[topic]
            await self._publish(topic, b"", retain=True)
