"""What every detector returns: a labelled box with a score. No model code here, so tracking and
faces can use it without importing onnxruntime."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    label: str
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float

    def scaled(self, scale: float) -> Detection:
        """The same detection in the pixels of a frame `1 / scale` times the size of this one's."""
        x, y, w, h = (round(v / scale) for v in self.box)
        return Detection(self.label, (x, y, w, h), self.score)
