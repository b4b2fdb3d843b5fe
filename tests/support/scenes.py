"""Synthetic pictures for the analyzer's tests: a still, noisy grey scene with an optional bright square."""

from __future__ import annotations

import numpy as np


def scene(t: int, square_at: int | None) -> np.ndarray:
    """Frame `t` (its noise differs from frame to frame) with a 40x60 square at x = square_at, or none."""
    rng = np.random.default_rng(t)
    image = np.full((240, 320, 3), 90, np.uint8) + rng.integers(0, 4, (240, 320, 3), dtype=np.uint8)
    if square_at is not None:
        image[100:160, square_at : square_at + 40] = 230
    return image
