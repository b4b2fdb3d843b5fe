"""Which detections a camera keeps: the labels it reports, each held to its rule (min score, box
size, zones and masks; shared.analysis.ObjectRule). Zones and masks are tested at the foot point,
the middle of the box's bottom edge: a person on the pavement beyond the gate is not at the door,
a car in the street is not in the drive."""

from __future__ import annotations

import cv2
import numpy as np

from analyzer.detectors.detection import Detection
from shared.analysis import AnalysisConfig, Polygon

DEFAULT_MIN_SCORE = 0.5  # each label's tuned operating point (analyzer.detectors.objects calibrates to it)


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


class ObjectRules:
    """A camera's rules made ready once (each label's score, its polygons per frame size), so a
    frame's detections are judged without rebuilding them."""

    def __init__(self, config: AnalysisConfig) -> None:
        self.config = config
        self.scores = {label: min_score(config, label) for label in config.labels}
        self.lowest = min(self.scores.values(), default=DEFAULT_MIN_SCORE)
        self._polygons: dict[tuple[str, int, int], tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def _shapes(self, label: str, width: int, height: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The label's zones (its own, else the camera's motion zones) and masks, in pixels."""
        key = (label, width, height)
        if key not in self._polygons:
            rule = self.config.rule(label)
            assert rule is not None
            zones = rule.zones or self.config.motion_zones
            self._polygons[key] = (_polygons(zones, width, height), _polygons(rule.masks, width, height))
        return self._polygons[key]

    def kept(self, found: list[Detection], width: int, height: int) -> list[Detection]:
        """The detections of the labels the camera reports that pass their label's rule."""
        area = float(width * height)
        out: list[Detection] = []
        for detection in found:
            wanted = self.scores.get(detection.label)
            if wanted is None or detection.score < wanted:
                continue
            rule = self.config.rule(detection.label)
            assert rule is not None
            _, _, w, h = detection.box
            if not rule.min_area <= w * h / area <= rule.max_area:
                continue
            zones, masks = self._shapes(detection.label, width, height)
            foot = _foot(detection, width, height)
            if (zones and not _inside(foot, zones)) or (masks and _inside(foot, masks)):
                continue
            out.append(detection)
        return out
