"""A camera's live feed for WebRTC: take the newest frame, encode it once, hand the packets to every viewer.

aiortc encodes separately for each peer connection; its sender also accepts pre-encoded
`av.Packet`s from a track and then only packetizes them. So each camera has one H.264
encoder (per overlay choice), run only while someone watches, and each viewer's track
gets the same packets. A viewer that joins, or falls behind, waits for a keyframe, which
the encoder makes at once on request and otherwise every second.

Frames come from the camera's shared reader (gateway.bus.hubs), which rides out Redis outages.
The feed itself never ends while anyone watches: a frame it cannot decode or encode is
counted and skipped, and an unexpected error starts a fresh encoder; viewers see a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import ClassVar

import av
import numpy as np
import redis
import simplejpeg
from av.video.codeccontext import VideoCodecContext

from gateway.bus.fanout import Fanout
from gateway.bus.hubs import Frame
from gateway.bus.store import Store
from gateway.webrtc.codec import TIME_BASE, EncodedPacket, JpegDecoder, h264_encoder
from gateway.webrtc.overlay import draw_detections
from gateway.webrtc.viewers import QueuedTrack, ViewerGroup
from shared.detections import FrameDetections
from shared.messages import FrameMessage

log = logging.getLogger(__name__)

KEYFRAME_INTERVAL_S = 1.0
QUEUE_PACKETS = 8
OVERLAY_MAX_AGE_S = 1.0
FRAME_WAIT_S = 1.0


@dataclass
class EncoderStats:
    frames_encoded: int = 0
    encode_ms_total: float = 0.0
    keyframes: int = 0
    packets_sent: int = 0
    frames_bad: int = 0  # frames that could not be decoded or encoded: skipped
    restarts: int = 0  # unexpected errors after which the encoder started afresh


class PacketTrack(QueuedTrack):
    """A viewer's video track: the shared encoder's packets, from the next keyframe on."""

    kind = "video"

    def __init__(self, feed: CameraFeed) -> None:
        super().__init__(feed, QUEUE_PACKETS)
        self.feed = feed
        self.waiting_keyframe = True

    @property
    def mode(self) -> str:
        return "transcoded"

    @property
    def frames_sent(self) -> int:
        return self.sent

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


@dataclass
class CameraFeed(ViewerGroup[PacketTrack]):
    task_prefix: ClassVar[str] = "feed"
    camera_id: int
    frames: Fanout[Frame]
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

    def subscribe(self, track: PacketTrack | None = None) -> PacketTrack:
        """A new viewer's track (or `track`, made by a passthrough feed), fed from the next keyframe."""
        track = track or PacketTrack(self)
        self.want_keyframe()
        self._join(track)
        return track

    def want_keyframe(self) -> None:
        self._keyframe_wanted = True

    async def _run(self) -> None:
        """Encode the newest frame while anyone watches; stop when the last viewer leaves."""
        try:
            async with contextlib.aclosing(self._while_watched(self.frames, FRAME_WAIT_S)) as frames:
                async for _entry_id, frame in frames:
                    try:
                        await self._encode_and_send(frame)
                    except Exception:  # a bug or a codec quirk: start a fresh encoder (with a keyframe), keep going
                        self.stats.restarts += 1
                        log.exception("camera=%d WebRTC encoder failed; starting afresh", self.camera_id)
                        self._encoder = None
                        self.want_keyframe()
        finally:
            self._encoder = None

    async def _encode_and_send(self, frame: FrameMessage) -> None:
        detections = await self._detections(frame) if self.overlay else None
        now = time.monotonic()
        keyframe = self._keyframe_wanted or now - self._last_keyframe_s >= KEYFRAME_INTERVAL_S
        started = time.perf_counter()
        try:
            packets = await asyncio.to_thread(self._encode, frame, keyframe, detections)
        except (ValueError, av.FFmpegError) as e:  # a JPEG that does not decode: skip this frame only
            self.stats.frames_bad += 1
            log.warning("camera=%d frame %d skipped: %s", self.camera_id, frame.seq, e)
            return
        self.stats.encode_ms_total += (time.perf_counter() - started) * 1000.0
        self.stats.frames_encoded += 1
        if keyframe:
            self._keyframe_wanted, self._last_keyframe_s = False, now
            self.stats.keyframes += 1
        for packet in packets:
            for track in list(self.viewers):
                track.offer(packet)
                self.stats.packets_sent += 1

    async def _detections(self, frame: FrameMessage) -> FrameDetections | None:
        """The newest analysis, if it is recent: boxes lag the picture by the analysis time."""
        try:
            latest = await self.store.latest_detections(self.camera_id)
        except redis.RedisError:
            return None
        if latest is not None and frame.captured_at_s - latest.captured_at_s <= OVERLAY_MAX_AGE_S:
            return latest
        return None

    def _encode(self, message: FrameMessage, keyframe: bool, detections: FrameDetections | None) -> list[EncodedPacket]:
        width, height = message.width - message.width % 2, message.height - message.height % 2
        if width < 2 or height < 2:
            raise ValueError(f"frame too small to encode: {message.width}x{message.height}")
        if self._encoder is None or self._size != (width, height):
            self._encoder = h264_encoder(width, height, self.bitrate, self.fps)
            self._size = (width, height)
            keyframe = True
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
