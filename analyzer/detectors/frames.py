"""A frame as the detectors see it: the JPEG decoded at about 640 px wide.

JPEG's DCT scaling decodes at 1/2, 1/4 ... of the size for less than a full decode costs,
so a 1280 px frame is decoded straight to 640 px. Shared by the worker and the benchmark.
"""

from __future__ import annotations

import numpy as np
import simplejpeg

ANALYSIS_WIDTH = 640


def decode_for_analysis(jpeg: bytes, width: int) -> np.ndarray:
    """A BGR image at least min(ANALYSIS_WIDTH, width) wide. Raises ValueError for a bad JPEG."""
    image: np.ndarray = simplejpeg.decode_jpeg(
        jpeg, colorspace="BGR", fastdct=True, fastupsample=True, min_width=min(ANALYSIS_WIDTH, width), min_height=0
    )
    return image
