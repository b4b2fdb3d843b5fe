"""Passthrough: a camera's own H.264 access units to its viewers, never decoded or re-encoded.

Each RTSP camera has one PassthroughFeed, reading the camera's packet stream through the
gateway's shared reader (gateway.bus.hubs) while anyone watches. A viewer's PassthroughTrack starts
on the camera's shared transcoder, which makes a keyframe at once, so a picture shows within
a frame or two; at the camera's next keyframe it switches to the camera's own stream and
leaves the transcoder (which stops when nobody else uses it). An H.265 camera's units are
never passed to a browser: its viewers stay on the transcoder. A camera that changes to a codec
that cannot be passed (a firmware update, a new profile) sends its viewers back to the
transcoder at once, and one that changes back takes them to its own stream again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import ClassVar

import av

from gateway.bus.fanout import Fanout
from gateway.webrtc.codec import TIME_BASE, EncodedPacket
from gateway.webrtc.feed import CameraFeed, PacketTrack
from gateway.webrtc.viewers import ViewerGroup
from shared.packets import PacketMessage

log = logging.getLogger(__name__)

PASSABLE = {"h264"}  # what aiortc can send (and every browser take) as it is
WAIT_S = 1.0

Packet = tuple[str, PacketMessage]  # stream entry id, access unit


class PassthroughTrack(PacketTrack):
    """A viewer's video: the transcoder's packets until the camera's next keyframe, then the camera's."""

    def __init__(self, transcoded: CameraFeed, passthrough: PassthroughFeed) -> None:
        super().__init__(transcoded)
        self.passthrough = passthrough
        self.switched = False

    @property
    def mode(self) -> str:
        return "passthrough" if self.switched else "transcoded"

    def offer(self, packet: EncodedPacket) -> None:
        if not self.switched:
            super().offer(packet)

    def offer_passthrough(self, packet: EncodedPacket) -> None:
        if not self.switched:
            if not packet.is_keyframe:
                return
            self.switched = True
            self.feed.unsubscribe(self)  # the transcoder stops when its last viewer has switched
            self.waiting_keyframe = True
        super().offer(packet)  # a viewer too slow skips to the camera's next keyframe

    def fall_back(self) -> None:
        """Back to the transcoder (from its next keyframe, made at once): the camera's units can no
        longer be passed as they are."""
        if self.switched:
            self.switched = False
            self.waiting_keyframe = True
            self.feed.subscribe(self)

    def stop(self) -> None:
        super().stop()  # leaves the transcoder
        self.passthrough.unsubscribe(self)


@dataclass
class PassthroughStats:
    units_relayed: int = 0
    gaps: int = 0  # lost access units (a reader that fell behind, a reconnect): skipped to a keyframe


@dataclass
class PassthroughFeed(ViewerGroup[PassthroughTrack]):
    task_prefix: ClassVar[str] = "passthrough"
    camera_id: int
    packets: Fanout[Packet]
    viewers: set[PassthroughTrack] = field(default_factory=set)
    stats: PassthroughStats = field(default_factory=PassthroughStats)
    codec: str | None = None  # of the last unit seen
    _task: asyncio.Task[None] | None = None

    def subscribe(self, transcoded: CameraFeed) -> PassthroughTrack:
        track = PassthroughTrack(transcoded, self)
        transcoded.subscribe(track)
        self._join(track)
        return track

    async def _run(self) -> None:
        last_seq: int | None = None
        need_keyframe = True
        async with contextlib.aclosing(self._while_watched(self.packets, WAIT_S)) as units:
            async for _entry_id, unit in units:
                if unit.codec != self.codec:
                    log.info("camera=%d passthrough: the camera sends %s", self.camera_id, unit.codec)
                    self.codec = unit.codec
                    if unit.codec not in PASSABLE:  # (viewers who join meanwhile start on the transcoder)
                        for track in list(self.viewers):
                            track.fall_back()
                if unit.codec not in PASSABLE:
                    need_keyframe = True
                    continue
                if last_seq is not None and unit.seq != last_seq + 1:
                    self.stats.gaps += 1
                    need_keyframe = True
                last_seq = unit.seq
                if need_keyframe and not unit.keyframe:
                    continue
                need_keyframe = False
                packet = av.Packet(unit.data)
                packet.pts = packet.dts = int(unit.captured_at_s * 90000)  # the transcoder's clock too
                packet.time_base = TIME_BASE
                packet.is_keyframe = unit.keyframe
                self.stats.units_relayed += 1
                for track in list(self.viewers):
                    track.offer_passthrough(packet)
