"""Detection quality against ground truth: average precision at an IoU threshold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from analyzer.detectors.geometry import iou


@dataclass(frozen=True)
class Quality:
    ap: float
    precision: float  # at the score threshold given
    recall: float
    detections: int
    ground_truth: int


def average_precision(
    detections: Mapping[int, np.ndarray],  # frame -> (N, 5) x, y, w, h, score
    truth: Mapping[int, np.ndarray],  # frame -> (M, 4) x, y, w, h
    iou_threshold: float = 0.5,
    score_threshold: float = 0.5,
    ignore: Mapping[int, np.ndarray] | None = None,  # frame -> (K, 4) boxes marked "ignore" (MOT conf 0)
) -> Quality:
    """VOC-style AP (all points of the precision-recall curve), greedy matching by score.

    A detection that matches no counted box but overlaps an ignored one is left out,
    neither right nor wrong, as MOTChallenge does with its conf-0 boxes."""
    scored: list[tuple[float, bool]] = []
    total_truth = sum(len(t) for t in truth.values())
    for frame in set(detections) | set(truth):
        found = detections.get(frame, np.zeros((0, 5)))
        expected = truth.get(frame, np.zeros((0, 4)))
        found = found[np.argsort(-found[:, 4])]
        taken = np.zeros(len(expected), bool)
        overlaps = iou(found[:, :4], expected) if len(found) and len(expected) else np.zeros((len(found), 0))
        ignored = (ignore or {}).get(frame, np.zeros((0, 4)))
        near_ignored = np.zeros(len(found), bool)
        if len(found) and len(ignored):
            near_ignored = np.asarray((iou(found[:, :4], ignored) >= iou_threshold).any(axis=1))
        for i in range(len(found)):
            candidates: np.ndarray = (
                np.flatnonzero(~taken & (overlaps[i] >= iou_threshold)) if overlaps.shape[1] else np.zeros(0, np.int64)
            )
            hit = len(candidates) > 0
            if hit:
                taken[candidates[np.argmax(overlaps[i, candidates])]] = True
            elif near_ignored[i]:
                continue
            scored.append((float(found[i, 4]), hit))
    if not scored or total_truth == 0:
        return Quality(0.0, 0.0, 0.0, len(scored), total_truth)
    scored.sort(key=lambda s: -s[0])
    hits = np.array([h for _, h in scored], float)
    true_pos = np.cumsum(hits)
    precision = true_pos / np.arange(1, len(hits) + 1)
    recall = true_pos / total_truth
    # Area under the precision envelope (precision made monotonically decreasing).
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    above = np.array([s >= score_threshold for s, _ in scored])
    kept_hits = hits[above].sum()
    return Quality(
        ap=float(np.sum(steps * envelope)),
        precision=float(kept_hits / max(above.sum(), 1)),
        recall=float(kept_hits / total_truth),
        detections=len(scored),
        ground_truth=total_truth,
    )


@dataclass(frozen=True)
class Shot:
    first: int  # frame index, from 0
    last: int
    faces: int  # -1: ignored
    region: tuple[float, float, float, float] | None  # x1, y1, x2, y2 that holds each face's centre


def read_face_shots(text: str) -> list[Shot]:
    """The by-eye face labels: `first_frame,last_frame,n_faces,x1,y1,x2,y2,note`, one shot a row."""
    shots = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(("#", "first_frame")):
            continue
        cells = line.split(",")
        region = tuple(float(v) for v in cells[3:7]) if cells[3] else None
        shots.append(Shot(int(cells[0]), int(cells[1]), int(cells[2]), region))  # type: ignore[arg-type]
    return shots


def face_quality(detections: Mapping[int, np.ndarray], shots: list[Shot]) -> Quality:
    """Precision and recall of faces against shot labels (frames from 0).

    A face is found in a frame when a detection's centre lies in the shot's region; any other
    detection is a false positive. Frames of ignored shots count for nothing."""
    true_pos = false_pos = found = expected = 0
    for shot in shots:
        if shot.faces < 0:
            continue
        for frame in range(shot.first, shot.last + 1):
            boxes = detections.get(frame, np.zeros((0, 5)))
            hit = False
            for x, y, w, h, _score in boxes:
                cx, cy = x + w / 2, y + h / 2
                r = shot.region
                if r is not None and not hit and r[0] <= cx <= r[2] and r[1] <= cy <= r[3]:
                    true_pos, hit = true_pos + 1, True
                else:
                    false_pos += 1
            if shot.faces > 0:
                expected += 1
                found += hit
    precision = true_pos / max(true_pos + false_pos, 1)
    recall = found / max(expected, 1)
    return Quality(
        ap=float("nan"), precision=precision, recall=recall, detections=true_pos + false_pos, ground_truth=expected
    )
