"""JPEG encoding of decoded frames with libjpeg-turbo (simplejpeg).

Decoded YUV 4:2:0 frames are encoded straight from their planes, with no colour
conversion (about 1.2 ms at 720p against 1.7 ms through BGR and cv2.imencode).
"""

from __future__ import annotations

import av
import numpy as np
import simplejpeg
from av.video.reformatter import VideoReformatter

_PLANAR_420 = {"yuv420p", "yuvj420p"}


class JpegEncoder:
    def __init__(self, quality: int) -> None:
        self.quality = quality
        # One reformatter for the life of the stream: building one per frame costs more than the work.
        self._reformatter = VideoReformatter()

    def encode_frame(self, frame: av.VideoFrame) -> bytes:
        if frame.format.name not in _PLANAR_420:
            frame = self._reformatter.reformat(frame, format="yuv420p")
        y, u, v = (_plane(frame, i) for i in range(3))
        jpeg: bytes = simplejpeg.encode_jpeg_yuv_planes(y, u, v, quality=self.quality, fastdct=True)
        return jpeg

    def encode_bgr(self, image: np.ndarray) -> bytes:
        jpeg: bytes = simplejpeg.encode_jpeg(
            image, quality=self.quality, colorspace="BGR", colorsubsampling="420", fastdct=True
        )
        return jpeg


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    plane = frame.planes[index]
    rows: np.ndarray = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]
