"""A camera's audio to its WebRTC viewers: G.711 as the camera sent it, anything else as Opus.

Each RTSP camera with audio has one CameraAudio, reading the camera's audio stream through
the gateway's shared reader (gateway.bus.hubs) while anyone listens. A viewer whose browser
takes the camera's own G.711 (PCMU or PCMA: every browser does) gets the camera's packets
untouched; other viewers, and every viewer of an AAC camera, get Opus, decoded and encoded
once per camera for all of them, and only while one of them listens.

RTP timestamps follow the camera's own sample clock (pts_s), anchored to the wall clock
at the first packet and again after a gap, so a reconnect never sends time backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

import av
import redis
from av.audio.codeccontext import AudioCodecContext
from av.audio.resampler import AudioResampler

from gateway.bus.fanout import Fanout, offer_dropping_oldest
from gateway.bus.hubs import Audio
from gateway.webrtc.codec import EncodedPacket
from gateway.webrtc.viewers import QueuedTrack, ViewerGroup
from shared.packets import AudioMessage

log = logging.getLogger(__name__)

# The camera's codec (FFmpeg's name) -> what WebRTC calls it, for those a browser takes as they are.
PASSABLE = {"pcm_mulaw": "audio/PCMU", "pcm_alaw": "audio/PCMA"}
OPUS = "audio/opus"
OPUS_RATE = 48000
OPUS_FRAME = 960  # 20 ms
OPUS_TIME_BASE = fractions.Fraction(1, OPUS_RATE)
AUDIO_QUEUE = 25  # packets a viewer may fall behind (0.5 s of 20 ms packets); past it, the oldest go
WAIT_S = 1.0
GAP_S = 0.5  # a jump in the camera's clock larger than this is a gap (a reconnect): anchor again


class AudioTrack(QueuedTrack):
    """A viewer's audio: encoded packets (the camera's G.711, or the shared Opus), as they come."""

    kind = "audio"

    def __init__(self, audio: CameraAudio) -> None:
        super().__init__(audio, AUDIO_QUEUE)
        self.audio = audio
        self.mime: str | None = None  # what was negotiated; None until then (nothing is sent)
        self.dropped = 0

    @property
    def mode(self) -> str | None:
        """ "passthrough" (the camera's own G.711), "opus" (transcoded), None before negotiation."""
        if self.mime is None:
            return None
        return "opus" if self.mime == OPUS else "passthrough"

    @property
    def packets_sent(self) -> int:
        return self.sent

    def offer(self, packet: EncodedPacket) -> None:
        self.dropped += offer_dropping_oldest(self.queue, packet)  # too slow: the oldest goes, audio stays live


class OpusTranscoder:
    """One camera's audio (any codec FFmpeg decodes) to 48 kHz stereo Opus, 20 ms a packet."""

    def __init__(self, first: AudioMessage, first_ts_s: float) -> None:
        self.format = (first.codec, first.sample_rate, first.channels, first.config)
        decoder = av.CodecContext.create(first.codec, "r")
        assert isinstance(decoder, AudioCodecContext)
        self.decoder = decoder
        self.decoder.sample_rate = first.sample_rate
        self.decoder.layout = "mono" if first.channels == 1 else "stereo"
        if first.config:
            self.decoder.extradata = first.config
        self.resampler = AudioResampler(format="s16", layout="stereo", rate=OPUS_RATE, frame_size=OPUS_FRAME)
        encoder = av.CodecContext.create("libopus", "w")
        assert isinstance(encoder, AudioCodecContext)
        self.encoder = encoder
        self.encoder.sample_rate, self.encoder.layout, self.encoder.format = OPUS_RATE, "stereo", "s16"
        self.encoder.time_base = OPUS_TIME_BASE
        self.encoder.bit_rate = 48000
        self.encoder.options = {"application": "audio"}
        self.next_pts = round(first_ts_s * OPUS_RATE)  # our own count: every packet is 20 ms

    def same_format(self, unit: AudioMessage) -> bool:
        return self.format == (unit.codec, unit.sample_rate, unit.channels, unit.config)

    def encode(self, unit: AudioMessage) -> list[EncodedPacket]:
        packets: list[EncodedPacket] = []
        for frame in self.decoder.decode(av.Packet(unit.data)):
            frame.pts = None  # the resampler counts samples itself; timestamps are ours
            for resampled in self.resampler.resample(frame):
                packets.extend(self.encoder.encode(resampled))
        for packet in packets:
            packet.pts = packet.dts = self.next_pts
            packet.time_base = OPUS_TIME_BASE
            self.next_pts += OPUS_FRAME
        return packets


@dataclass
class AudioStats:
    units_in: int = 0
    packets_passed: int = 0  # the camera's own G.711, to each viewer
    packets_encoded: int = 0  # Opus packets made (once, for every Opus viewer)
    units_bad: int = 0  # units that could not be decoded: skipped
    gaps: int = 0


@dataclass
class CameraAudio(ViewerGroup[AudioTrack]):
    task_prefix: ClassVar[str] = "audio"
    camera_id: int
    audio: Fanout[Audio]
    latest: Callable[[], Awaitable[AudioMessage | None]]  # the camera's newest unit on the bus
    viewers: set[AudioTrack] = field(default_factory=set)
    stats: AudioStats = field(default_factory=AudioStats)
    codec: str | None = None  # of the last unit seen
    _task: asyncio.Task[None] | None = None
    _transcoder: OpusTranscoder | None = None
    _anchor_s: float | None = None  # wall-clock time of the camera's pts 0
    _last: AudioMessage | None = None

    async def preferred(self) -> list[str]:
        """The codecs to negotiate, best first: the camera's own when a browser can take it, then Opus.
        None for a camera that has sent no audio (or while Redis is away): its viewers get video only."""
        try:
            latest = await self.latest()
        except redis.RedisError:
            return []
        if latest is None:
            return []
        return [PASSABLE[latest.codec], OPUS] if latest.codec in PASSABLE else [OPUS]

    def track(self) -> AudioTrack:
        """A new viewer's track; it gets packets once `start` says what it negotiated."""
        return AudioTrack(self)

    def start(self, track: AudioTrack, mime: str) -> None:
        """Feed `track` with what its viewer negotiated: the camera's own G.711, or Opus."""
        known = {m.lower(): m for m in (*PASSABLE.values(), OPUS)}
        if mime.lower() not in known:
            log.warning("camera=%d audio codec %s was negotiated, which is not sent", self.camera_id, mime)
            return
        track.mime = known[mime.lower()]
        self._join(track)

    async def _run(self) -> None:
        try:
            async with contextlib.aclosing(self._while_watched(self.audio, WAIT_S)) as units:
                async for _entry_id, unit in units:
                    self.stats.units_in += 1
                    self.codec = unit.codec
                    self._hand_out(unit, self._timestamp_s(unit))
        finally:
            self._transcoder = None

    def _timestamp_s(self, unit: AudioMessage) -> float:
        """The unit's time for RTP: the camera's clock, anchored to the wall clock (again after a gap)."""
        last = self._last
        gap = last is None or unit.seq != last.seq + 1 or not 0 <= unit.pts_s - last.pts_s <= GAP_S
        if self._anchor_s is None or gap:
            if self._anchor_s is not None:
                self.stats.gaps += 1
            self._anchor_s = unit.captured_at_s - unit.pts_s
            self._transcoder = None  # a new run: the encoder starts again from this time
        self._last = unit
        return self._anchor_s + unit.pts_s

    def _hand_out(self, unit: AudioMessage, timestamp_s: float) -> None:
        own = PASSABLE.get(unit.codec)
        passed = [t for t in self.viewers if t.mime is not None and t.mime == own]
        if passed:
            packet = av.Packet(unit.data)
            packet.pts = packet.dts = round(timestamp_s * unit.sample_rate)
            packet.time_base = fractions.Fraction(1, unit.sample_rate)
            for track in passed:
                track.offer(packet)
                self.stats.packets_passed += 1
        transcoded = [t for t in self.viewers if t.mime == OPUS]
        if not transcoded:
            self._transcoder = None
            return
        try:
            if self._transcoder is None or not self._transcoder.same_format(unit):
                self._transcoder = OpusTranscoder(unit, timestamp_s)
            packets = self._transcoder.encode(unit)
        except (ValueError, av.FFmpegError) as e:  # one bad unit: skip it, start the decoder afresh
            self.stats.units_bad += 1
            self._transcoder = None
            log.warning("camera=%d audio unit %d skipped: %s", self.camera_id, unit.seq, e)
            return
        self.stats.packets_encoded += len(packets)
        for packet in packets:
            for track in transcoded:
                track.offer(packet)
