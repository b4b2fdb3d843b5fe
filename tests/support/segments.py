"""A real recording segment for tests that need footage on disk without a camera."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np


def write_sample_segment(path: Path, seconds: int = 10, size: int = 64) -> Path:
    """A fragmented MP4 of `seconds` of H.264 at 5 fps, as the camera processes write them."""
    with av.open(str(path), "w", format="mp4",
                 options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}) as out:  # fmt: skip
        stream = out.add_stream("libx264", rate=5)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = fractions.Fraction(1, 90000)
        for i in range(seconds * 5):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), i * 5 % 256, np.uint8), format="rgb24")
            frame.pts = i * 18000
            frame.time_base = stream.time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
