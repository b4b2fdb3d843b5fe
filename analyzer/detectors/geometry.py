"""Boxes as [x, y, w, h] in pixels: IoU and non-maximum suppression."""

from __future__ import annotations

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of a (N, 4) with every box of b (M, 4): an (N, M) matrix."""
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    w = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0, None], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1, None], b[None, :, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    result: np.ndarray = inter / np.maximum(union, 1e-9)
    return result


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept, best score first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[iou(boxes[best : best + 1], boxes[rest])[0] <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def looked_at(box: tuple[int, int, int, int], regions: list[tuple[int, int, int, int]]) -> bool:
    """Whether a box's centre (x, y, w, h) lies in one of the regions (x, y, w, h)."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return any(x <= cx < x + w and y <= cy < y + h for x, y, w, h in regions)
