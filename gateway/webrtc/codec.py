"""The codecs of the WebRTC path: JPEG to YUV frames, YUV frames to H.264 for browsers."""

from __future__ import annotations

import fractions
from typing import Any

import av
from av.video.codeccontext import VideoCodecContext

TIME_BASE = fractions.Fraction(1, 90000)

# An encoded H.264 access unit, as aiortc's sender takes it from a track.
EncodedPacket = Any


def h264_encoder(width: int, height: int, bitrate: int, fps: float) -> VideoCodecContext:
    """libx264 as browsers and aiortc negotiate it: constrained baseline (42e01f), Annex B, no B-frames."""
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = TIME_BASE
    # x264's rate control spreads the bitrate over frames at this rate; without it, it budgets
    # for 90,000 frames a second (the time base) and sends grey.
    encoder.framerate = fractions.Fraction(fps).limit_denominator(1000)
    encoder.bit_rate = bitrate
    encoder.profile = "baseline"
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "level": "3.1" if width * height <= 1280 * 720 else "4.0",
        # Keyframes only when asked (a viewer joins, or once a second): see CameraFeed.
        "x264-params": "keyint=3000:min-keyint=3000:scenecut=0:repeat-headers=1",
        "threads": "1",
    }
    encoder.open()
    return encoder


class JpegDecoder:
    """JPEG to a YUV 4:2:0 frame with FFmpeg's MJPEG decoder: the planes as coded, no colour conversion."""

    def __init__(self) -> None:
        self._codec = av.CodecContext.create("mjpeg", "r")

    def decode(self, jpeg: bytes, width: int, height: int) -> av.VideoFrame:
        frames = self._codec.decode(av.Packet(jpeg))
        if not frames:
            raise ValueError("JPEG decoded to no frame")
        frame = frames[0]
        if frame.format.name not in ("yuvj420p", "yuv420p") or (frame.width, frame.height) != (width, height):
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        return frame
