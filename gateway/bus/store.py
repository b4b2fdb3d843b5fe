"""The gateway's only door to Redis: status, frames, detections, the live event channel, health
checks and the WebRTC session counter. Routes, feeds and hubs never call Redis themselves.
Event history is in the database (shared.db.events), not here."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TypeVar, cast

import redis.asyncio as aioredis

from shared import keys
from shared.detections import Event, FrameDetections
from shared.ingest_hosts import IngestHost
from shared.messages import FrameMessage, MessageError
from shared.packets import AudioMessage, PacketMessage
from shared.status import BridgeStatus, CameraStatus, WorkerStatus, ZoneOccupancy

STATUS_CACHE_S = 0.25
PUBSUB_POLL_S = 1.0

Entry = tuple[bytes, dict[bytes, bytes]]
M = TypeVar("M")

# Session ids must never repeat one that may still be live, even after Redis lost the counter
# (it keeps nothing on disk): a counter that is missing starts again from the clock in
# milliseconds, far above any number handed out before (that would take 1,000 sessions a second).
_NEXT_SESSION = """
if redis.call('exists', KEYS[1]) == 0 then redis.call('set', KEYS[1], ARGV[1]) end
return redis.call('incr', KEYS[1])
"""


def _entries(reply: object) -> list[Entry]:
    """Stream entries as this client returns them (bytes, since it does not decode responses)."""
    return cast(list[Entry], reply or [])


class Store:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._status_cache: dict[tuple[int, ...], tuple[float, tuple[dict[int, CameraStatus], dict[int, str]]]] = {}
        self._next_session = client.register_script(_NEXT_SESSION)

    async def close(self) -> None:
        await self.client.aclose()

    async def ping(self) -> None:
        """Raises redis.RedisError when Redis does not answer."""
        await self.client.ping()

    async def bridge_status(self) -> BridgeStatus | None:
        """The bridge's status as it last wrote it (bridge/service.py), or None when it has not lately
        (or wrote something this gateway cannot read: said as a bridge that is not running)."""
        raw = await self.client.get(keys.bridge_status())
        if raw is None:
            return None
        try:
            return BridgeStatus.decode(raw)
        except MessageError:
            return None

    async def new_normal_view(self, camera_id: int, at_s: float) -> None:
        """The owner's "this is the new normal": the worker analysing the camera learns its view again
        (analyzer.tamper_views). Raises redis.RedisError."""
        await self.client.set(keys.tamper_relearn(camera_id), repr(at_s))

    async def zone_occupancy(self, camera_id: int) -> ZoneOccupancy | None:
        """How many are in each of the camera's zones now, as the worker analysing it last said (None:
        no worker says, or what it wrote cannot be read)."""
        raw = await self.client.get(keys.zone_occupancy(camera_id))
        if raw is None:
            return None
        try:
            return ZoneOccupancy.decode(raw)
        except MessageError:
            return None

    async def ingest_alive(self) -> bool:
        """Whether any ingest host's manager heartbeats."""
        return bool(await self.ingest_hosts())

    async def ingest_hosts(self) -> dict[str, IngestHost]:
        """The live ingest hosts' records, by name (those unreadable left out)."""
        names = cast(list[bytes], await self.client.zrange(keys.ingest_hosts(), 0, -1))
        if not names:
            return {}
        records = await self.client.mget([keys.ingest_host(n.decode(errors="replace")) for n in names])
        found = {}
        for record in records:
            if record is not None:
                with contextlib.suppress(MessageError):
                    host = IngestHost.decode(record)
                    found[host.host] = host
        return found

    async def next_session_number(self) -> int:
        return int(await self._next_session(keys=[keys.webrtc_session_counter()], args=[int(time.time() * 1000)]))

    async def workers(self) -> list[WorkerStatus]:
        ids = cast(list[bytes], await self.client.zrange(keys.analyzer_workers(), 0, -1))
        if not ids:
            return []
        records = await self.client.mget([keys.analyzer_status(w.decode()) for w in ids])
        found = []
        for record in records:
            if record is not None:
                with contextlib.suppress(MessageError):
                    found.append(WorkerStatus.decode(record))
        return found

    async def cameras_and_owners(self, camera_ids: list[int]) -> tuple[dict[int, CameraStatus], dict[int, str]]:
        """Ingest status and analyzer owner of each camera, in one round trip.

        Cached for STATUS_CACHE_S: ingest rewrites status once a second, so a busy API (a wall
        of dashboards polling) costs Redis a few reads a second instead of one per request."""
        key = tuple(camera_ids)
        cached = self._status_cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        found = await self._read_cameras_and_owners(camera_ids)
        self._status_cache[key] = (time.monotonic() + STATUS_CACHE_S, found)
        return found

    async def _read_cameras_and_owners(self, camera_ids: list[int]) -> tuple[dict[int, CameraStatus], dict[int, str]]:
        if not camera_ids:
            return {}, {}
        names = [keys.camera_status(c) for c in camera_ids] + [keys.camera_lease(c) for c in camera_ids]
        raw = await self.client.mget(names)
        statuses: dict[int, CameraStatus] = {}
        for camera_id, value in zip(camera_ids, raw[: len(camera_ids)], strict=True):
            with contextlib.suppress(MessageError):  # an unreadable record reads as offline
                if value is not None:
                    statuses[camera_id] = CameraStatus.decode(value)
        owners = {c: cast(bytes, v).decode() for c, v in zip(camera_ids, raw[len(camera_ids) :], strict=True) if v}
        return statuses, owners

    async def latest_frame(self, camera_id: int) -> tuple[str, FrameMessage] | None:
        """The newest readable frame of the camera's stream, if any."""
        entries = _entries(await self.client.xrevrange(keys.frame_stream(camera_id), count=1))
        if not entries:
            return None
        entry_id, frame = _frame(entries[0])
        return (entry_id, frame) if frame is not None else None

    async def want_frames(self, camera_id: int, ttl_ms: int) -> None:
        """Ask the camera's ingest for every frame (not only the analysis rate) for ttl_ms."""
        await self.client.set(keys.frames_wanted(camera_id), b"1", px=ttl_ms)

    async def want_packets(self, camera_id: int, ttl_ms: int) -> None:
        """Ask the camera's ingest for its access units on the packet stream for ttl_ms."""
        await self.client.set(keys.packets_wanted(camera_id), b"1", px=ttl_ms)

    async def next_frame(self, camera_id: int, after_id: str, block_ms: int) -> tuple[str, FrameMessage | None] | None:
        """The id and frame of the newest entry after `after_id` (frame None if unreadable), waiting
        up to block_ms; older entries are skipped. None if nothing came."""
        stream = keys.frame_stream(camera_id)
        reply = cast(list[tuple[bytes, list[Entry]]], await self.client.xread({stream: after_id}, block=block_ms))
        if not reply or not reply[0][1]:
            return None
        return _frame(reply[0][1][-1])

    async def next_packets(
        self, camera_id: int, after_id: str, block_ms: int
    ) -> list[tuple[str, PacketMessage | None]]:
        """Every entry of the camera's packet stream after `after_id`, in order (a passthrough decoder
        needs them all), waiting up to block_ms; a unit None where an entry is unreadable."""
        return await self._every_entry(keys.packet_stream(camera_id), after_id, block_ms, PacketMessage.from_entry)

    async def next_audio(self, camera_id: int, after_id: str, block_ms: int) -> list[tuple[str, AudioMessage | None]]:
        """Every entry of the camera's audio stream after `after_id`, in order, waiting up to block_ms."""
        return await self._every_entry(keys.audio_stream(camera_id), after_id, block_ms, AudioMessage.from_entry)

    async def _every_entry(
        self, stream: str, after_id: str, block_ms: int, decode: Callable[[Mapping[bytes, bytes]], M]
    ) -> list[tuple[str, M | None]]:
        reply = cast(list[tuple[bytes, list[Entry]]], await self.client.xread({stream: after_id}, block=block_ms))
        if not reply:
            return []
        found: list[tuple[str, M | None]] = []
        for entry_id, fields in reply[0][1]:
            try:
                found.append((entry_id.decode(), decode(fields)))
            except MessageError:
                found.append((entry_id.decode(), None))
        return found

    async def latest_audio(self, camera_id: int) -> AudioMessage | None:
        """The camera's newest readable audio unit (what it sends, for negotiation), if any."""
        entries = _entries(await self.client.xrevrange(keys.audio_stream(camera_id), count=1))
        if not entries:
            return None
        try:
            return AudioMessage.from_entry(entries[0][1])
        except MessageError:
            return None

    async def next_detections(
        self, camera_id: int, after_id: str, block_ms: int
    ) -> tuple[str, FrameDetections | None] | None:
        """The id and record of the newest detections entry after `after_id` (None if unreadable),
        waiting up to block_ms; older entries are skipped. None if nothing came."""
        stream = keys.detections_stream(camera_id)
        reply = cast(list[tuple[bytes, list[Entry]]], await self.client.xread({stream: after_id}, block=block_ms))
        if not reply or not reply[0][1]:
            return None
        entry_id, fields = reply[0][1][-1]
        try:
            return entry_id.decode(), FrameDetections.from_entry(fields)
        except MessageError:
            return entry_id.decode(), None

    async def latest_detections(self, camera_id: int) -> FrameDetections | None:
        entries = _entries(await self.client.xrevrange(keys.detections_stream(camera_id), count=1))
        if not entries:
            return None
        try:
            return FrameDetections.from_entry(entries[0][1])
        except MessageError:
            return None

    async def event_messages(self) -> AsyncIterator[Event | MessageError]:
        """Every event published from now on, as it comes (an unreadable one as its error).
        Ends with redis.RedisError when Redis goes away: the caller subscribes again."""
        pubsub = self.client.pubsub()
        try:
            await pubsub.subscribe(keys.EVENTS_CHANNEL)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=PUBSUB_POLL_S)
                if message is not None and message.get("type") == "message":
                    try:
                        yield Event.decode(message["data"])
                    except MessageError as e:
                        yield e
        finally:
            await pubsub.aclose()


def _frame(entry: Entry) -> tuple[str, FrameMessage | None]:
    """An entry's id and frame; None for a frame that cannot be read."""
    entry_id, fields = entry
    try:
        return entry_id.decode(), FrameMessage.from_entry(fields)
    except MessageError:
        return entry_id.decode(), None
