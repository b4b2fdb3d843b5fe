"""A camera's live feed for WebRTC: read the newest frame, encode it once, hand the packets to every viewer.

aiortc encodes separately for each peer connection; its sender also accepts pre-encoded
`av.Packet`s from a track and then only packetizes them. So each camera has one H.264
encoder (per overlay choice), run only while someone watches, and each viewer's track
gets the same packets. A viewer that joins, or falls behind, waits for a keyframe, which
the encoder makes at once on request and otherwise every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import av
import numpy as np
import simplejpeg
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.codeccontext import VideoCodecContext

from gateway.store import Store
from gateway.webrtc.codec import TIME_BASE, EncodedPacket, JpegDecoder, h264_encoder
from gateway.webrtc.overlay import draw_detections
from shared.detections import FrameDetections
from shared.messages import FrameMessage

log = logging.getLogger(__name__)

KEYFRAME_INTERVAL_S = 1.0
QUEUE_PACKETS = 8
OVERLAY_MAX_AGE_S = 1.0


@dataclass
class EncoderStats:
    frames_encoded: int = 0
    encode_ms_total: float = 0.0
    keyframes: int = 0
    packets_sent: int = 0


class PacketTrack(MediaStreamTrack):
    """A viewer's video track: the shared encoder's packets, from the next keyframe on."""

    kind = "video"

    def __init__(self, feed: CameraFeed) -> None:
        super().__init__()
        self.feed = feed
        self.queue: asyncio.Queue[EncodedPacket | None] = asyncio.Queue(QUEUE_PACKETS)
        self.waiting_keyframe = True
        self.frames_sent = 0

    def offer(self, packet: EncodedPacket) -> None:
        if self.waiting_keyframe and not packet.is_keyframe:
            return
        if self.queue.full():  # too slow: skip to the next keyframe rather than show a broken picture
            while not self.queue.empty():
                self.queue.get_nowait()
            self.waiting_keyframe = True
            self.feed.want_keyframe()
            return
        self.waiting_keyframe = False
        self.queue.put_nowait(packet)

    async def recv(self) -> EncodedPacket:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        if packet is None:
            raise MediaStreamError
        self.frames_sent += 1
        return packet

    def stop(self) -> None:
        super().stop()
        self.feed.unsubscribe(self)
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


@dataclass
class CameraFeed:
    camera_id: int
    store: Store
    overlay: bool = False
    fps: float = 15.0
    bitrate: int = 2_000_000
    stats: EncoderStats = field(default_factory=EncoderStats)
    viewers: set[PacketTrack] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    _encoder: VideoCodecContext | None = None
    _keyframe_wanted: bool = True
    _last_keyframe_s: float = 0.0
    _size: tuple[int, int] | None = None
    _jpeg: JpegDecoder = field(default_factory=JpegDecoder)

    def subscribe(self) -> PacketTrack:
        track = PacketTrack(self)
        self.viewers.add(track)
        self.want_keyframe()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"feed-{self.camera_id}")
        return track

    def unsubscribe(self, track: PacketTrack) -> None:
        self.viewers.discard(track)

    def want_keyframe(self) -> None:
        self._keyframe_wanted = True

    async def close(self) -> None:
        for track in list(self.viewers):
            track.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        """Encode the newest frame while anyone watches; stop when the last viewer leaves."""
        last_id = "$"
        latest = await self.store.latest_frame(self.camera_id)
        if latest is not None:
            last_id = latest[0]
            await self._encode_and_send(latest[1])
        try:
            while self.viewers:
                found = await self.store.next_frame(self.camera_id, last_id, block_ms=1000)
                if found is None:
                    continue
                last_id, frame = found
                if frame is not None:
                    await self._encode_and_send(frame)
        except Exception:
            log.exception("camera=%d WebRTC feed failed; viewers will reconnect", self.camera_id)
            for track in list(self.viewers):
                track.stop()
        finally:
            self._encoder = None

    async def _encode_and_send(self, frame: FrameMessage) -> None:
        detections = None
        if self.overlay:  # the newest analysis, if it is recent: boxes lag the picture by the analysis time
            latest = await self.store.latest_detections(self.camera_id)
            if latest is not None and frame.captured_at_s - latest.captured_at_s <= OVERLAY_MAX_AGE_S:
                detections = latest
        now = time.monotonic()
        keyframe = self._keyframe_wanted or now - self._last_keyframe_s >= KEYFRAME_INTERVAL_S
        started = time.perf_counter()
        packets = await asyncio.to_thread(self._encode, frame, keyframe, detections)
        self.stats.encode_ms_total += (time.perf_counter() - started) * 1000.0
        self.stats.frames_encoded += 1
        if keyframe:
            self._keyframe_wanted, self._last_keyframe_s = False, now
            self.stats.keyframes += 1
        for packet in packets:
            for track in list(self.viewers):
                track.offer(packet)
                self.stats.packets_sent += 1

    def _encode(self, message: FrameMessage, keyframe: bool, detections: FrameDetections | None) -> list[EncodedPacket]:
        width, height = message.width - message.width % 2, message.height - message.height % 2
        if self._encoder is None or self._size != (width, height):
            self._encoder = h264_encoder(width, height, self.bitrate, self.fps)
            self._size = (width, height)
        if detections is not None:
            image = simplejpeg.decode_jpeg(message.jpeg, colorspace="BGR")[:height, :width]
            draw_detections(image, detections)
            video = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24").reformat(format="yuv420p")
        else:
            video = self._jpeg.decode(message.jpeg, width, height)
        video.pts = int(message.captured_at_s * 90000)
        video.time_base = TIME_BASE
        video.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        return list(self._encoder.encode(video))
