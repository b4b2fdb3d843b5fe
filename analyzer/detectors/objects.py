"""The object detector (NanoDet-g) behind the interface the pipeline uses for people: `detect`
over a BGR image, or over the regions asked for, giving labelled boxes best first.

The whole frame is read in one pass (NanoDet at 256 px costs a third of SSDLite's two tiles and
is more accurate on the test clips: docs/analyzer.md), at an input of `long_side` pixels along
the frame's longer side and the other side in proportion, rounded up to a multiple of 32: so a
4:3 frame is read at 256x192, a 16:9 one at 256x160. A model is converted per input size, once.

Scores are calibrated per label: the model's raw score at a label's tuned threshold reads 0.5,
and raw scores below and above it are spread linearly over 0..0.5 and 0.5..1. So a camera's
`person_min_score` of 0.5 (the default) means the tuned operating point, whichever model runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from analyzer.detectors import model_fetch, nanodet, runtime
from analyzer.detectors.detection import Detection
from shared.labels import COCO_LABELS

DEFAULT_LONG_SIDE = 256
# Raw NanoDet scores at each label's operating point (person: precision 0.87-0.89, recall
# 0.78-0.82 on TUD-Campus and PETS09-S2L1); labels not listed use DEFAULT_RAW_THRESHOLD.
RAW_THRESHOLDS = {"person": 0.4}
DEFAULT_RAW_THRESHOLD = 0.4


def input_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(rows, cols) for a frame: the longer side `long_side`, the other in proportion, both
    rounded up to a multiple of 32."""
    scale = long_side / max(width, height)
    rows, cols = (max(32, math.ceil(v * scale / 32) * 32) for v in (height, width))
    return rows, cols


def calibrated(raw: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Raw scores mapped so that `threshold` reads 0.5 (monotonic, 0 stays 0 and 1 stays 1)."""
    low = raw / threshold * 0.5
    high = 0.5 + (raw - threshold) / (1 - threshold) * 0.5
    result: np.ndarray = np.where(raw < threshold, low, high)
    return result


def raw_score(score: float, threshold: float) -> float:
    """The raw score a calibrated one stands for."""
    return score * 2 * threshold if score < 0.5 else threshold + (score - 0.5) * 2 * (1 - threshold)


class ObjectDetector:
    def __init__(
        self,
        cache_dir: Path,
        provider: str = "auto",
        threads: int = 1,
        labels: tuple[str, ...] = ("person",),
        long_side: int = DEFAULT_LONG_SIDE,
        model_dir: Path | None = None,
    ) -> None:
        self.model_json = model_fetch.model_json(model_dir)  # a FetchError naming the cure if absent
        self.cache_dir = cache_dir
        self.providers = runtime.choose_providers(provider)
        self.threads = threads
        self.long_side = long_side
        unknown = set(labels) - set(COCO_LABELS)
        if unknown:
            raise ValueError(f"NanoDet has no label(s) {', '.join(sorted(unknown))}")
        self.wanted = np.isin(COCO_LABELS, labels)  # a boolean per label id
        # Each label's raw operating point, by label id.
        self.raw_thresholds = np.array([RAW_THRESHOLDS.get(label, DEFAULT_RAW_THRESHOLD) for label in COCO_LABELS])
        self._sessions: dict[tuple[int, int], tuple[runtime.Model, list[np.ndarray]]] = {}
        # The provider is known once a session exists: open the usual one now.
        self.provider = self._session(input_size(640, 360, long_side))[0].provider

    def tiles_for(self, width: int, height: int) -> int:
        """The whole frame in one pass, always (analyzer.regions reads this as: no motion tiles)."""
        return 1

    def detect(
        self, image: np.ndarray, min_score: float | None = None, regions: list[tuple[int, int, int, int]] | None = None,
        long_side: int | None = None,
    ) -> list[Detection]:  # fmt: skip
        """Objects of the wanted labels in a BGR image, best first: in `regions` (x, y, w, h) only,
        or in the whole frame. `min_score` is calibrated (0.5: each label's operating point);
        `long_side` reads it at another input size than the detector's (a camera asking for more)."""
        wanted = 0.5 if min_score is None else min_score
        # The lowest raw score any wanted label may pass with; each is then held to its own.
        lowest = min(raw_score(wanted, float(t)) for t in self.raw_thresholds[self.wanted])
        height, width = image.shape[:2]
        found: list[Detection] = []
        for x, y, w, h in regions if regions is not None else [(0, 0, width, height)]:
            crop = image[y : y + h, x : x + w]
            input_hw = input_size(w, h, long_side or self.long_side)
            model, grids = self._session(input_hw)
            heads = model.run(nanodet.blob([crop], input_hw))
            boxes, raw, labels = nanodet.decode([head[0] for head in heads], grids, (h, w), input_hw, lowest,
                                                self.wanted)  # fmt: skip
            scores = calibrated(raw, self.raw_thresholds[labels])
            keep = scores >= wanted
            boxes[:, 0] += x
            boxes[:, 1] += y
            found += nanodet.detections(boxes[keep], scores[keep], labels[keep])
        return sorted(found, key=lambda d: -d.score)

    def _session(self, input_hw: tuple[int, int]) -> tuple[runtime.Model, list[np.ndarray]]:
        if input_hw not in self._sessions:
            model = nanodet.onnx_model(self.model_json, self.cache_dir, input_hw)
            self._sessions[input_hw] = (runtime.session(model, self.providers, self.threads), nanodet.centres(input_hw))
        return self._sessions[input_hw]
