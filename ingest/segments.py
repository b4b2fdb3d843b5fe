"""A camera's own stream to disk: fragmented MP4 segments, by stream copy (never decoded, never
encoded), written by the camera's process itself so that recording needs neither Redis nor
the database: it rides out their outages and the restarts of every other process.

Each segment starts at a keyframe and runs whole GOPs until the first keyframe after
CAMSTREAM_RECORDINGS_SEGMENT_S; it is written as `<start>.part.mp4` under an exclusive flock
and renamed `<start>-<end>.mp4` when done (shared.recordings). Every frame is a fragment of its
own, handed to the OS as soon as the next one comes (FRAGMENTS), so a process killed mid-segment
loses at most its last frame: the recorder repairs the part file with everything before it.

Times: a segment's wall-clock start and end come from the camera's own clock (its RTP
timestamps) anchored to the wall clock when the reader connected, so consecutive segments
abut exactly, and a reconnect leaves a gap as long as the reconnect.

A full disk (or any write error) pauses recording: the segment is closed as far as it got,
the state says why, and the writer tries again every RETRY_S from the next keyframe.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import fractions
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av
from av.container import OutputContainer
from av.video.codeccontext import VideoCodecContext

from ingest.rtsp.audio import AudioDepacketizer, AudioUnit
from ingest.rtsp.depacketize import AccessUnit
from ingest.sender import QueueSender
from shared import recordings

log = logging.getLogger(__name__)

QUEUE_UNITS = 300  # 20 s at 15 fps: a slow disk's hiccup
RETRY_S = 5.0
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
# One fragment per frame, written through at once (flush_packets, and an unbuffered file): fragments
# ending at keyframes kept a whole GOP (seconds) in the muxer, lost when the process was killed. The
# cost: about 120 bytes a frame (0.4 % of a 4 Mbit/s 15 fps stream; docs/recordings.md).
FRAGMENTS = {"movflags": "frag_every_frame+empty_moov+default_base_moof", "flush_packets": "1"}


@dataclass(frozen=True, slots=True)
class _Video:
    unit: AccessUnit
    pts_s: float
    received_at_s: float


@dataclass(frozen=True, slots=True)
class _Audio:
    unit: AudioUnit
    sample_rate: int
    channels: int
    config: bytes
    pts_s: float


class _Restart:
    """The reader reconnected: the segment ends with what it has."""


Item = _Video | _Audio | _Restart


class RecordingState:
    RECORDING = "recording"
    WAITING = "waiting"  # for the camera's first keyframe
    PAUSED = "paused"  # the disk is full: resumes by itself
    FAILED = "failed"  # another write error: retried


class SegmentWriter(QueueSender[Item]):
    def __init__(self, root: Path, camera_id: int, segment_s: float) -> None:
        super().__init__(f"recording-{camera_id}")
        self.root = root
        self.camera_id = camera_id
        self.segment_s = segment_s
        self.state = RecordingState.WAITING
        self.error: str | None = None
        self.bytes_written = 0  # of finished segments
        self.segments = 0
        self.dropped = 0
        self._segment: _Segment | None = None
        self._anchor_s: float | None = None  # wall-clock time of pts 0 of the current connection
        self._retry_at = 0.0
        self._need_keyframe = True
        self._audio_format: tuple[str, int, int, bytes] | None = None
        self.on_change: Callable[[], None] = lambda: None  # the state changed: the status is written at once

    def offer(self, unit: AccessUnit, pts_s: float, received_at_s: float) -> None:
        """Queue an access unit; never blocks (a full queue drops up to the next keyframe)."""
        with self._wake:
            if self._need_keyframe and not unit.keyframe:
                return
            self._need_keyframe = False
            if len(self._pending) >= QUEUE_UNITS:
                self.dropped += len(self._pending) + 1
                self._pending.clear()
                self._pending.append(_Restart())
                self._need_keyframe = True
                return
            self._queue(_Video(unit, pts_s, received_at_s))

    def offer_audio(self, unit: AudioUnit, track: AudioDepacketizer, pts_s: float, _received_at_s: float) -> None:
        with self._wake:
            if len(self._pending) < QUEUE_UNITS:
                self._queue(_Audio(unit, track.sample_rate, track.channels, track.config, pts_s))

    def restart(self) -> None:
        with self._wake:
            self._need_keyframe = True
            self._queue(_Restart())

    def stop(self, timeout_s: float = 5.0) -> None:
        self.restart()
        super().stop(timeout_s)

    def _send(self, item: Item) -> None:
        if isinstance(item, _Restart):
            self._close("reader restarted")
            self._anchor_s = None
            return
        if isinstance(item, _Audio):
            if item.unit.codec == "aac":  # G.711 has no place in MP4 that browsers play
                self._audio_format = ("aac", item.sample_rate, item.channels, item.config)
                if self._segment is not None:
                    self._segment.audio(item)
            return
        if self._anchor_s is None:
            self._anchor_s = item.received_at_s - item.pts_s
        wall_s = self._anchor_s + item.pts_s
        segment = self._segment
        # (less a hair: a keyframe due at exactly segment_s must not wait for the next GOP)
        if item.unit.keyframe and (segment is None or item.pts_s - segment.first_pts_s >= self.segment_s - 0.05):
            self._close("", end_s=wall_s)
            if time.monotonic() < self._retry_at:
                return
            self._open(item, wall_s)
        if self._segment is not None:
            try:
                self._segment.video(item)
            except (OSError, av.FFmpegError) as e:
                self._failed(e)

    def _open(self, first: _Video, wall_s: float) -> None:
        try:
            self._segment = _Segment(self.root, self.camera_id, first, wall_s, self._audio_format)
        except (OSError, av.FFmpegError) as e:
            self._failed(e)
            return
        if self.state != RecordingState.RECORDING:
            log.info("camera=%d recording to %s", self.camera_id, self._segment.part.parent)
            self.state, self.error = RecordingState.RECORDING, None
            self.on_change()

    def _close(self, why: str, end_s: float | None = None) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            size = segment.finish(end_s)
        except (OSError, av.FFmpegError) as e:
            self._failed(e)
            return
        if size:
            self.bytes_written += size
            self.segments += 1
        if why:
            log.info("camera=%d segment closed: %s", self.camera_id, why)

    def _failed(self, error: BaseException) -> None:
        """Stop writing until RETRY_S from now; what was written stays, as far as it got."""
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.abandon()
        full = isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
        full = full or "No space left" in str(error)
        state = RecordingState.PAUSED if full else RecordingState.FAILED
        reason = "disk full" if full else f"cannot write: {error}"
        changed = (self.state, self.error) != (state, reason)
        if changed:
            log.warning("camera=%d recording %s (%s); retrying every %.0f s", self.camera_id, state, reason, RETRY_S)
        self.state, self.error = state, reason
        if changed:
            self.on_change()
        self._retry_at = time.monotonic() + RETRY_S


class _Segment:
    """One open segment file: an fMP4 muxer over a locked part file."""

    def __init__(
        self, root: Path, camera_id: int, first: _Video, wall_s: float, audio: tuple[str, int, int, bytes] | None
    ) -> None:
        self.root, self.camera_id = root, camera_id
        self.start_ms = int(wall_s * 1000)
        self.wall_start_s = wall_s
        self.first_pts_s = first.pts_s
        self.last_pts_s = first.pts_s
        self.frame_s = 0.0
        self.part = recordings.part_path(root, camera_id, self.start_ms)
        self.part.parent.mkdir(parents=True, exist_ok=True)
        # held open (and locked) until finish; unbuffered, so what the muxer writes is the OS's at once
        self.file: IO[bytes] = open(self.part, "wb", buffering=0)  # noqa: SIM115
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.container: OutputContainer = av.open(self.file, "w", format="mp4", options=FRAGMENTS)
        codec = first.unit.codec
        self.video_stream = self.container.add_stream(codec)
        self.video_stream.time_base = VIDEO_TIME_BASE
        context = self.video_stream.codec_context
        assert isinstance(context, VideoCodecContext)
        context.width, context.height = picture_size(codec, first.unit.data)
        context.extradata = parameter_sets(codec, first.unit.data)
        self.audio_stream = None
        self.audio_first_pts_s: float | None = None
        if audio is not None:
            _codec, rate, channels, config = audio
            stream = self.container.add_stream("aac", rate=rate)
            stream.codec_context.layout = "mono" if channels == 1 else "stereo"
            stream.codec_context.extradata = config
            stream.time_base = fractions.Fraction(1, rate)
            self.audio_stream = stream

    def video(self, item: _Video) -> None:
        packet = av.Packet(item.unit.data)
        packet.pts = packet.dts = round((item.pts_s - self.first_pts_s) * 90000)
        packet.time_base = VIDEO_TIME_BASE
        packet.is_keyframe = item.unit.keyframe
        packet.stream = self.video_stream
        if item.pts_s > self.last_pts_s:
            self.frame_s = item.pts_s - self.last_pts_s
        self.last_pts_s = item.pts_s
        self.container.mux(packet)

    def audio(self, item: _Audio) -> None:
        stream = self.audio_stream
        if stream is None or item.sample_rate != stream.codec_context.sample_rate:
            return
        offset_s = item.pts_s - self.first_pts_s
        if offset_s < 0:  # from before this segment's first picture
            return
        packet = av.Packet(item.unit.data)
        packet.pts = packet.dts = round(offset_s * item.sample_rate)
        packet.time_base = fractions.Fraction(1, item.sample_rate)
        packet.stream = stream
        self.container.mux(packet)

    def finish(self, end_s: float | None) -> int:
        """Close the file and give it its final name; its size (0 if it held no picture)."""
        if end_s is None:  # the stream stopped: the last picture lasts one frame
            end_s = self.wall_start_s + (self.last_pts_s - self.first_pts_s) + (self.frame_s or 1 / 15)
        try:
            self.container.close()
            self.file.flush()
            end_ms = max(int(end_s * 1000), self.start_ms + 1)
            final = recordings.finished_path(self.root, self.camera_id, self.start_ms, end_ms)
            os.replace(self.part, final)  # under the lock: the recorder never mistakes it for an orphan
            return final.stat().st_size
        finally:
            self.file.close()

    def abandon(self) -> None:
        """After a write error: leave the part file to the recorder (it keeps what is readable)."""
        with contextlib.suppress(OSError, av.FFmpegError):
            self.container.close()
        with contextlib.suppress(OSError):  # closing flushes, which fails the same way on a full disk
            self.file.close()


def _nal_units(data: bytes) -> list[bytes]:
    """An Annex B access unit's NAL units, without their start codes."""
    units, start = [], data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        nxt = data.find(b"\x00\x00\x01", begin)
        end = nxt if nxt >= 0 else len(data)
        units.append(data[begin:end].rstrip(b"\x00"))
        start = nxt
    return units


def _nal_type(codec: str, nal: bytes) -> int:
    return (nal[0] & 0x1F) if codec == "h264" else (nal[0] >> 1) & 0x3F


def parameter_sets(codec: str, keyframe: bytes) -> bytes:
    """The keyframe's parameter sets in Annex B: what MP4's avcC/hvcC is made from."""
    wanted = {7, 8} if codec == "h264" else {32, 33, 34}
    return b"".join(b"\x00\x00\x00\x01" + n for n in _nal_units(keyframe) if n and _nal_type(codec, n) in wanted)


_sizes: dict[bytes, tuple[int, int]] = {}


def picture_size(codec: str, keyframe: bytes) -> tuple[int, int]:
    """Width and height, by decoding the keyframe once per set of parameter sets (cached)."""
    key = parameter_sets(codec, keyframe)
    if key not in _sizes:
        decoder = av.CodecContext.create(codec, "r")
        frames = decoder.decode(av.Packet(keyframe))  # type: ignore[attr-defined]
        frames = frames or decoder.decode(None)  # type: ignore[attr-defined]
        if not frames:
            raise av.InvalidDataError(errno.EINVAL, "the keyframe does not decode")
        _sizes[key] = (frames[0].width, frames[0].height)
    return _sizes[key]
