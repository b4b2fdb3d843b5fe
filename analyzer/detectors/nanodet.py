"""Object detection with NanoDet-g (RangiLyu/nanodet, Apache-2.0): 80 COCO labels in one pass.

The model comes as a TF.js graph model (analyzer.detectors.model_fetch) and is converted to ONNX at the
input size asked for (analyzer.detectors.tfjs_onnx), pixel normalisation inside the graph, and cached.
Its heads give, for each cell of three grids (strides 8, 16 and 32), 80 label scores (already
sigmoid) and four side distances as distributions over 11 bins (Generalized Focal Loss): the
expected bin times the stride is how far each side lies from the cell's centre. Boxes are then
kept per label by non-maximum suppression.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from analyzer.detectors import model_cache, tfjs_onnx
from analyzer.detectors.detection import Detection
from analyzer.detectors.geometry import nms
from analyzer.detectors.tfjs_graph import read_graph
from shared.labels import COCO_LABELS

# The graph's input is BGR in 0..255, as NanoDet was trained on OpenCV images.
MEAN_BGR = [103.53, 116.28, 123.675]
STD_BGR = [57.375, 57.12, 58.395]
STRIDES = (8, 16, 32)
BINS = 11  # reg_max 10
EXPORT_VERSION = 1


def onnx_model(model_json: Path, cache_dir: Path, input_hw: tuple[int, int]) -> bytes:
    """NanoDet as ONNX at `input_hw` (each a multiple of 32), converted once and cached by the
    content of the TF.js files and the size."""
    if input_hw[0] % 32 or input_hw[1] % 32:
        raise ValueError(f"NanoDet's input must be a multiple of 32 each way, not {input_hw[1]}x{input_hw[0]}")
    graph_json = model_json.read_bytes()
    weights = {path.name: path.read_bytes() for path in sorted(model_json.parent.glob("*.bin"))}
    digest = hashlib.sha256(graph_json + b"".join(weights.values())).hexdigest()[:16]
    cached = cache_dir / f"nanodet-{digest}-{input_hw[1]}x{input_hw[0]}-v{EXPORT_VERSION}.onnx"
    return model_cache.converted(
        cached,
        f"NanoDet at {input_hw[1]}x{input_hw[0]}",
        lambda: tfjs_onnx.convert(read_graph(graph_json, weights), input_hw, MEAN_BGR, STD_BGR),
    )


def blob(images: list[np.ndarray], input_hw: tuple[int, int]) -> np.ndarray:
    """BGR images stretched to the input size, as the model's [batch, 3, H, W] float32."""
    rows, cols = input_hw
    result: np.ndarray = cv2.dnn.blobFromImages(images, 1.0, (cols, rows), swapRB=False)
    return result


def centres(input_hw: tuple[int, int]) -> list[np.ndarray]:
    """Each grid's cell centres (x, y) in input pixels, row by row, with its stride."""
    grids = []
    for stride in STRIDES:
        rows, cols = -(-input_hw[0] // stride), -(-input_hw[1] // stride)
        y, x = np.mgrid[0:rows, 0:cols]
        grids.append(np.stack([(x.ravel() + 0.5) * stride, (y.ravel() + 0.5) * stride, np.full(x.size, stride)], 1))
    return grids


def decode(
    heads: list[np.ndarray], grids: list[np.ndarray], image_hw: tuple[int, int], input_hw: tuple[int, int],
    threshold: float, wanted: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One image's heads (scores of the three grids, then their distributions): boxes (x, y, w, h
    in the image's pixels), scores and label ids, best first, per label NMS done. `wanted`: a
    boolean per label (None: all)."""
    scores = np.concatenate(heads[: len(STRIDES)])
    distributions = np.concatenate(heads[len(STRIDES) :])
    cells = np.concatenate(grids)
    above = scores >= threshold
    cell, label = np.nonzero(above & wanted if wanted is not None else above)
    if cell.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    score = scores[cell, label]
    logits = distributions[cell].reshape(-1, 4, BINS)
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    sides = (weights / weights.sum(axis=2, keepdims=True)) @ np.arange(BINS, dtype=np.float32)
    cx, cy, stride = cells[cell, 0], cells[cell, 1], cells[cell, 2]
    x1, y1 = cx - sides[:, 0] * stride, cy - sides[:, 1] * stride
    x2, y2 = cx + sides[:, 2] * stride, cy + sides[:, 3] * stride
    sx, sy = image_hw[1] / input_hw[1], image_hw[0] / input_hw[0]
    boxes = np.stack([x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy], 1).astype(np.float32)
    # Per-label NMS in one call: each label's boxes moved far from every other label's.
    offset = (label * (max(image_hw) * 4.0))[:, None].astype(np.float32)
    keep = nms(boxes + np.concatenate([offset, offset, np.zeros_like(offset), np.zeros_like(offset)], 1), score, 0.6)
    return boxes[keep], score[keep].astype(np.float32), label[keep]


def detections(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> list[Detection]:
    return [
        Detection(
            COCO_LABELS[int(label)],
            (round(float(b[0])), round(float(b[1])), round(float(b[2])), round(float(b[3]))),
            round(float(s), 3),
        )
        for b, s, label in zip(boxes, scores, labels, strict=True)
    ]
