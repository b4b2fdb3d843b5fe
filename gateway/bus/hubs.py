"""The gateway's shared readers: one per camera for its frames (every MJPEG client and WebRTC feed
of the camera listens to it) and one for the event channel (every `/ws/events` client)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.bus.fanout import Fanout
from gateway.bus.store import Store
from shared.detections import Event, FrameDetections
from shared.messages import FrameMessage
from shared.packets import AudioMessage, PacketMessage

log = logging.getLogger(__name__)
M = TypeVar("M")

FRAME_BLOCK_MS = 1000
# A frame (packet) reader tells ingest it reads every frame (the packets: ingest sends none unread;
# it looks each second), and says it again well before the word lapses; when the last listener
# goes, ingest falls back to the analysis rate (no packets).
WANT_EVERY_S = 1.0
WANT_TTL_MS = 3000


class _Asking:
    """A reader's standing request to ingest (`want(camera_id, ttl_ms)`), said again each WANT_EVERY_S."""

    def __init__(self, camera_id: int, want: Callable[[int, int], Awaitable[None]] | None) -> None:
        self._camera_id, self._want = camera_id, want
        self._said_at = -WANT_EVERY_S

    async def renew(self) -> None:
        if self._want is not None and time.monotonic() - self._said_at >= WANT_EVERY_S:
            await self._want(self._camera_id, WANT_TTL_MS)
            self._said_at = time.monotonic()


EVENT_QUEUE = 256  # a listener this far behind loses its oldest events (counted)

Frame = tuple[str, FrameMessage]  # stream entry id, frame
Packet = tuple[str, PacketMessage]  # stream entry id, a camera's own access unit
PACKET_QUEUE = 64  # access units a passthrough feed may fall behind (4 s at 15 fps); past it, a gap
Audio = tuple[str, AudioMessage]  # stream entry id, a camera's audio unit
AUDIO_QUEUE = 50  # audio units a camera's audio feed may fall behind (1 s of 20 ms packets)


class Hubs:
    def __init__(
        self, store: Store, camera_ids: list[int], max_frame_listeners: int, max_event_listeners: int,
        packet_camera_ids: list[int] | None = None, audio_camera_ids: list[int] | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.frames_bad: Counter[int] = Counter()  # per camera: unreadable entries skipped
        self.events_bad = 0
        self.max_frame_listeners = max_frame_listeners
        self.events = Fanout[Event]("events", self._read_events, EVENT_QUEUE, max_event_listeners)
        self.frames: dict[int, Fanout[Frame]] = {}
        # One reader of each camera's detections, for viewers whose browser draws the boxes.
        self.detections: dict[int, Fanout[FrameDetections]] = {}
        # One reader of each RTSP camera's packet stream, for its passthrough feed; and of its audio.
        self.packets: dict[int, Fanout[Packet]] = {}
        self.audio: dict[int, Fanout[Audio]] = {}
        for camera_id in camera_ids:
            self.add_camera(camera_id, camera_id in (packet_camera_ids or []), camera_id in (audio_camera_ids or []))

    def add_camera(self, camera_id: int, packets: bool, audio: bool) -> None:
        """The camera's readers (started when someone listens); `packets`/`audio` for an RTSP camera."""
        name = f"camera={camera_id}"
        self.frames[camera_id] = Fanout[Frame](f"{name} frames", self._frame_reader(camera_id), 1,
                                               self.max_frame_listeners)  # fmt: skip
        self.detections[camera_id] = Fanout[FrameDetections](
            f"{name} detections", self._detections_reader(camera_id), 4, self.max_frame_listeners
        )
        if packets:
            self.packets[camera_id] = Fanout[Packet](f"{name} packets", self._packet_reader(camera_id), PACKET_QUEUE, 1)
        if audio:
            self.audio[camera_id] = Fanout[Audio](f"{name} audio", self._audio_reader(camera_id), AUDIO_QUEUE, 1)

    async def remove_camera(self, camera_id: int) -> None:
        for readers in (self.frames, self.detections, self.packets, self.audio):
            fanout = readers.pop(camera_id, None)
            if fanout is not None:
                await fanout.close()

    async def close(self) -> None:
        for frames in self.frames.values():
            await frames.close()
        for packets in self.packets.values():
            await packets.close()
        for audio in self.audio.values():
            await audio.close()
        for detections in self.detections.values():
            await detections.close()
        await self.events.close()

    def _frame_reader(self, camera_id: int) -> Callable[[Fanout[Frame]], Awaitable[None]]:
        async def read(fanout: Fanout[Frame]) -> None:
            """The newest frame, each time one comes; a bad entry is counted and skipped."""
            last_id = "$"
            latest = await self.store.latest_frame(camera_id)
            if latest is not None:
                last_id = latest[0]
                fanout.publish(latest)
            asking = _Asking(camera_id, self.store.want_frames)
            while fanout.listeners:
                await asking.renew()
                found = await self.store.next_frame(camera_id, last_id, block_ms=FRAME_BLOCK_MS)
                if found is None:
                    continue
                last_id, frame = found
                if frame is None:
                    self.frames_bad[camera_id] += 1
                    log.warning("camera=%d unreadable frame entry %s skipped", camera_id, last_id)
                    continue
                fanout.publish((last_id, frame))

        return read

    def _detections_reader(self, camera_id: int) -> Callable[[Fanout[FrameDetections]], Awaitable[None]]:
        async def read(fanout: Fanout[FrameDetections]) -> None:
            """Each analysis as it is published; an unreadable one is skipped."""
            last_id = "$"
            while fanout.listeners:
                found = await self.store.next_detections(camera_id, last_id, block_ms=FRAME_BLOCK_MS)
                if found is None:
                    continue
                last_id, record = found
                if record is not None:
                    fanout.publish(record)

        return read

    def _packet_reader(self, camera_id: int) -> Callable[[Fanout[Packet]], Awaitable[None]]:
        return self._ordered_reader(camera_id, "packet", self.store.next_packets, self.store.want_packets)

    def _audio_reader(self, camera_id: int) -> Callable[[Fanout[Audio]], Awaitable[None]]:
        return self._ordered_reader(camera_id, "audio", self.store.next_audio)

    def _ordered_reader(
        self, camera_id: int, kind: str, next_entries: Callable[[int, str, int], Awaitable[list[tuple[str, M | None]]]],
        want: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> Callable[[Fanout[tuple[str, M]]], Awaitable[None]]:  # fmt: skip
        async def read(fanout: Fanout[tuple[str, M]]) -> None:
            """Every entry from now on, in order; an unreadable one is counted and skipped."""
            last_id = "$"
            asking = _Asking(camera_id, want)
            while fanout.listeners:
                await asking.renew()
                for entry_id, unit in await next_entries(camera_id, last_id, FRAME_BLOCK_MS):
                    last_id = entry_id
                    if unit is None:
                        self.frames_bad[camera_id] += 1
                        log.warning("camera=%d unreadable %s entry %s skipped", camera_id, kind, entry_id)
                    else:
                        fanout.publish((entry_id, unit))

        return read

    async def _read_events(self, fanout: Fanout[Event]) -> None:
        async for event in self.store.event_messages():
            if not fanout.listeners:
                return
            if isinstance(event, Event):
                fanout.publish(event)
            else:
                self.events_bad += 1
                log.warning("unreadable event message skipped: %s", event)
