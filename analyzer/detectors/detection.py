"""What every detector returns: a labelled box with a score. No model code here, so tracking and
faces can use it without importing onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Detection:
    label: str
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float
    # Faces: the eyes, nose tip and mouth corners (x, y each), which face recognition aligns on.
    landmarks: tuple[float, ...] | None = None
    # Faces matched against the known people (analyzer.detectors.recognition): the name, or None for unknown,
    # and the similarity to the closest one (None: not matched at all).
    identity: str | None = None
    similarity: float | None = None

    def scaled(self, scale: float) -> Detection:
        """The same detection in the pixels of a frame `1 / scale` times the size of this one's."""
        x, y, w, h = (round(v / scale) for v in self.box)
        points = tuple(v / scale for v in self.landmarks) if self.landmarks is not None else None
        return Detection(self.label, (x, y, w, h), self.score, points, self.identity, self.similarity)

    def moved(self, dx: int, dy: int) -> Detection:
        """The same detection found in a region that starts at (dx, dy)."""
        x, y, w, h = self.box
        points = None
        if self.landmarks is not None:
            points = tuple(v + (dx if i % 2 == 0 else dy) for i, v in enumerate(self.landmarks))
        return Detection(self.label, (x + dx, y + dy, w, h), self.score, points, self.identity, self.similarity)


class Detector(Protocol):
    """What the pipeline looks for objects with (analyzer.detectors.persons' SSDLite,
    analyzer.detectors.objects' NanoDet)."""

    provider: str

    def tiles_for(self, width: int, height: int) -> int:
        """How many side-by-side tiles a full pass over a frame of this size reads."""
        ...

    def detect(
        self, image: np.ndarray, min_score: float | None = None, regions: list[tuple[int, int, int, int]] | None = None,
        long_side: int | None = None,
    ) -> list[Detection]:  # fmt: skip
        """Boxes in a BGR image, best first: in `regions` (x, y, w, h) only, or in the whole frame;
        `long_side`: the input's longer side where the model takes any (None: the detector's own)."""
        ...
