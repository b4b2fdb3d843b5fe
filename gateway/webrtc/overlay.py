"""Drawing the analyzer's detections on a frame, for viewers who asked for the overlay."""

from __future__ import annotations

import cv2
import numpy as np

from shared.detections import FrameDetections

# BGR colours: people green, faces blue, motion yellow.
COLOURS = {"person": (0, 255, 0), "face": (255, 128, 0)}
MOTION = (0, 255, 255)


def draw_detections(image: np.ndarray, detections: FrameDetections) -> None:
    """Boxes and labels, scaled from the analysed frame's size to this image's."""
    sx, sy = image.shape[1] / detections.width, image.shape[0] / detections.height
    thickness = max(2, image.shape[1] // 400)
    for box in detections.motion:
        cv2.rectangle(image, (int(box.x * sx), int(box.y * sy)),
                      (int((box.x + box.w) * sx), int((box.y + box.h) * sy)), MOTION, 1)  # fmt: skip
    for found in detections.objects:
        colour = COLOURS.get(found.label, (255, 255, 255))
        x1, y1 = int(found.box.x * sx), int(found.box.y * sy)
        x2, y2 = int((found.box.x + found.box.w) * sx), int((found.box.y + found.box.h) * sy)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness)
        label = f"{found.label} {found.score:.2f}"
        cv2.putText(image, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
