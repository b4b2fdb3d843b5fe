"""Which detections a camera keeps: the labels it reports, each held to its rule (min score, box
size, zones and masks; shared.analysis.ObjectRule). Zones and masks are tested at the foot point,
the middle of the box's bottom edge: a person on the pavement beyond the gate is not at the door,
a car in the street is not in the drive."""

from __future__ import annotations

import cv2
import numpy as np

from analyzer.detection import Detection
from shared.analysis import AnalysisConfig, Polygon

DEFAULT_MIN_SCORE = 0.5  # each label's tuned operating point (analyzer.objects calibrates to it)


def _polygons(shapes: list[Polygon], width: int, height: int) -> list[np.ndarray]:
    return [np.array([[x * width, y * height] for x, y in shape], np.float32) for shape in shapes]


def _foot(detection: Detection, width: int, height: int) -> tuple[float, float]:
    """Held inside the frame: a box cut by the frame's edge may reach past it by a few pixels."""
    x, y, w, h = detection.box
    return float(min(max(x + w / 2, 0), width)), float(min(max(y + h, 0), height))


def _inside(point: tuple[float, float], polygons: list[np.ndarray]) -> bool:
    return any(cv2.pointPolygonTest(polygon, point, False) >= 0 for polygon in polygons)


def in_zones(found: list[Detection], zones: list[Polygon], width: int, height: int) -> list[Detection]:
    """With zones set, only the detections whose foot point is inside one."""
    if not zones:
        return found
    polygons = _polygons(zones, width, height)
    return [d for d in found if _inside(_foot(d, width, height), polygons)]


def min_score(config: AnalysisConfig, label: str) -> float:
    rule = config.rule(label)
    if rule is not None and rule.min_score is not None:
        return rule.min_score
    return config.person_min_score if label == "person" else DEFAULT_MIN_SCORE


def lowest_min_score(config: AnalysisConfig) -> float:
    """The lowest score any label the camera reports may pass with (what to ask the detector for)."""
    return min((min_score(config, label) for label in config.labels), default=DEFAULT_MIN_SCORE)


def kept(found: list[Detection], config: AnalysisConfig, width: int, height: int) -> list[Detection]:
    """The detections of the labels the camera reports that pass their label's rule."""
    area = float(width * height)
    out: list[Detection] = []
    for detection in found:
        rule = config.rule(detection.label)
        if rule is None or detection.score < min_score(config, detection.label):
            continue
        _, _, w, h = detection.box
        if not rule.min_area <= w * h / area <= rule.max_area:
            continue
        foot = _foot(detection, width, height)
        zones = rule.zones or config.motion_zones
        if zones and not _inside(foot, _polygons(zones, width, height)):
            continue
        if rule.masks and _inside(foot, _polygons(rule.masks, width, height)):
            continue
        out.append(detection)
    return out
