"""Recording for sources that have no compressed stream of their own (video files, demo scenes):
their frames are encoded to H.264 once, here, and handed to the segment writer as if a camera
had sent them. RTSP cameras never come here: their own stream is copied (ingest.segments).

The encoder runs in its own thread behind a small queue (the reader never waits on it); a
frame arriving while the queue is full is dropped and counted. Pictures wider than MAX_WIDTH
are halved, to keep the encoder's cost low (measured: 2.6 ms a 640x360 frame, 6.3 ms at 720p).
"""

from __future__ import annotations

import fractions
import logging

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext

from ingest.rtsp.depacketize import AccessUnit
from ingest.segments import SegmentWriter
from ingest.sender import QueueSender

log = logging.getLogger(__name__)

MAX_WIDTH = 960
QUEUE_FRAMES = 8
KEYFRAME_S = 2.0
TIME_BASE = fractions.Fraction(1, 90000)

Picture = av.VideoFrame | np.ndarray  # a decoded frame, or a BGR image


class RecordingEncoder(QueueSender[tuple[Picture, float]]):
    def __init__(self, writer: SegmentWriter, fps: float) -> None:
        super().__init__(f"encode-{writer.camera_id}", QUEUE_FRAMES)
        self.writer = writer
        self.fps = fps
        self.dropped = 0
        self.encoded = 0
        self._encoder: VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self._first_s: float | None = None

    def offer(self, picture: Picture, received_at_s: float) -> None:
        with self._wake:
            if len(self._pending) >= QUEUE_FRAMES:
                self.dropped += 1
                return
            self._queue((picture, received_at_s))

    def _send(self, item: tuple[Picture, float]) -> None:
        picture, received_at_s = item
        frame = av.VideoFrame.from_ndarray(picture, format="bgr24") if isinstance(picture, np.ndarray) else picture
        width, height = frame.width, frame.height
        if width > MAX_WIDTH:
            width, height = width // 2, height // 2
        width, height = width - width % 2, height - height % 2
        if self._encoder is None or self._size != (width, height):
            self._encoder = _h264(width, height, self.fps)
            self._size = (width, height)
        if self._first_s is None:
            self._first_s = received_at_s
        pts_s = received_at_s - self._first_s  # files loop and restart their own clock: the wall clock does not
        scaled = frame.reformat(width=width, height=height, format="yuv420p")
        scaled.pts = round(pts_s * 90000)
        scaled.time_base = TIME_BASE
        for packet in self._encoder.encode(scaled):
            unit = AccessUnit("h264", bytes(packet), bool(packet.is_keyframe), 0)
            packet_s = float(packet.pts * TIME_BASE) if packet.pts is not None else pts_s
            self.writer.offer(unit, packet_s, self._first_s + packet_s)
            self.encoded += 1


def _h264(width: int, height: int, fps: float) -> VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = TIME_BASE
    encoder.framerate = fractions.Fraction(fps).limit_denominator(1000)
    encoder.bit_rate = 1_000_000
    encoder.profile = "baseline"
    keyint = max(1, round(fps * KEYFRAME_S))
    encoder.options = {
        "preset": "ultrafast", "tune": "zerolatency", "threads": "1",
        # Keyframes carry their parameter sets, as cameras send them (the segment writer reads them there).
        "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:repeat-headers=1",
    }  # fmt: skip
    encoder.open()
    return encoder
