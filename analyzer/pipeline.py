"""One camera's analysis: motion every frame; people and objects (where it moved, and the whole
frame now and then) and faces near people when there is motion (or now and then without);
tracking into events (person, face, or object with its label), the camera's rules deciding which
boxes count (analyzer.object_rules). No Redis here: frames in, results out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from analyzer.detectors.detection import Detection, Detector
from analyzer.detectors.faces import FaceDetector, faces_near_people
from analyzer.detectors.motion import MotionDetector
from analyzer.detectors.recognition import Recognizer
from analyzer.detectors.tamper import TamperChange, TamperDetector
from analyzer.object_rules import ObjectRules, in_zones
from analyzer.regions import LookSchedule
from analyzer.rules import Rules
from analyzer.tracking import Track, TrackChanges, Tracker
from shared.analysis import AnalysisConfig
from shared.detections import Box, DetectedObject, Event, EventPhase, EventType

RECOGNISE_EVERY_S = 1.0
# The tamper detector looks twice a second at most: its holds are seconds long, and at 5 fps this is
# 0.4 of its look's cost per analysed frame (analyzer.detectors.tamper; docs/health.md).
TAMPER_LOOK_EVERY_S = 0.5
# Faces are looked for near people found at this score or more, below the events' 0.5: a person
# half hidden or turned away may still show a face (NanoDet at 256 px misses a quarter of Tears of
# Steel's faces at 0.5, none at 0.2: docs/analyzer.md).
FACE_SEARCH_MIN_SCORE = 0.2

# How a detector is called: directly, or through the worker's watchdog.
Guard = Callable[..., Any]


def _direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@dataclass
class EventOut:
    event: Event
    snapshot: bytes | None  # JPEG to store with it, if any


@dataclass
class FrameResult:
    motion: list[Box]
    objects: list[DetectedObject]
    events: list[EventOut]
    timings_ms: dict[str, float] = field(default_factory=dict)
    occupancy: dict[str, int] | None = None  # tracks in each zone now (None: the camera has no zones)


@dataclass
class MotionEvent:
    """The motion event in progress: one movement, from hysteresis start to end."""

    id: str
    started_s: float
    snapshot: bool
    frames: int = 0
    last_s: float | None = None
    box: Box | None = None  # the union of everything that moved

    def saw(self, boxes: list[Box], t_s: float) -> None:
        self.frames += 1
        self.last_s = t_s
        self.box = _union(boxes if self.box is None else [self.box, *boxes])

    def message(self, camera_id: int, phase: EventPhase, now_s: float) -> Event:
        ended_s = (self.last_s or self.started_s) if phase is EventPhase.END else None
        return Event(self.id, camera_id, EventType.MOTION, phase, self.started_s, ended_s, None, self.box,
                     self.frames, self.snapshot, now_s)  # fmt: skip


class CameraAnalysis:
    def __init__(  # noqa: PLR0913 - the camera, its detectors and tuning knobs with defaults
        self,
        camera_id: int,
        config: AnalysisConfig,
        detector: Detector | None,
        faces: FaceDetector | None,
        idle_detect_s: float,
        guard: Guard = _direct,
        full_frame_s: float = 2.0,
        recognizer: Recognizer | None = None,
        tamper: TamperDetector | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.config = config
        self.detector = detector if config.labels else None  # people and objects
        self.faces = faces if config.face else None
        self.idle_detect_s = idle_detect_s
        self.looks = LookSchedule(full_frame_s)  # people: where it moved, the whole frame now and then
        self.recognizer = recognizer if config.face else None
        self.guard = guard
        self.motion = (
            MotionDetector(config.motion_min_area, config.motion_zones, config.motion_masks) if config.motion else None
        )
        self.tracker = Tracker(stationary_s=config.stationary_s)
        self.zone_rules = Rules(camera_id, config.zones, config.lines) if config.zones or config.lines else None
        self.rules = ObjectRules(config)
        # The lowest score to ask the detector for: the rules then hold each label to its own.
        self._ask_score = min(self.rules.lowest, FACE_SEARCH_MIN_SCORE) if self.faces is not None else self.rules.lowest
        self._event_ids: dict[int, str] = {}
        self._motion_event: MotionEvent | None = None
        self._last_objects_s = float("-inf")
        self._last_recognised_s = float("-inf")
        self.tamper = tamper
        self._tamper_event: Event | None = None
        self._last_tamper_look_s = float("-inf")

    def analyse(self, image: np.ndarray, scale: float, t_s: float, jpeg: bytes, now_s: float) -> FrameResult:
        """Analyse a BGR image that is the frame scaled by `scale`; boxes come back in frame pixels."""
        timings: dict[str, float] = {}
        events = self._look_for_tamper(image, t_s, jpeg, now_s, timings)
        moved, motion_boxes, moving, motion_events = self._look_for_motion(image, scale, t_s, jpeg, now_s, timings)
        events += motion_events
        # Look for people, objects and faces while something moves, and now and then when nothing does.
        idle_check_due = t_s - self._last_objects_s >= self.idle_detect_s
        has_detectors = self.detector is not None or self.faces is not None
        run_objects = has_detectors and (moving or idle_check_due or self.motion is None)
        found: list[Detection] = []
        looked: list[tuple[int, int, int, int]] | None = None  # the regions read, in frame pixels; None: all
        if run_objects:
            self._last_objects_s = t_s
            height, width = image.shape[:2]
            regions = None
            seen: list[Detection] = []  # everything the detector gave, above the lowest score asked
            if self.detector is not None:
                regions = self.looks.regions(moved, width, height, self.detector.tiles_for(width, height), t_s)
                started = time.perf_counter()
                seen = self.guard(self.detector.detect, image, self._ask_score, regions, self.config.detect_long_side)
                timings["person" if regions is None else "person_regions"] = _since(started)
            reported = self.rules.kept(seen, width, height)
            if self.faces is not None:
                near = [d for d in seen if d.label == "person" and d.score >= FACE_SEARCH_MIN_SCORE]
                started = time.perf_counter()
                faces = self.guard(faces_near_people, self.faces, image, near, self.config.face_min_score,
                                   self.config.face_everywhere or self.detector is None)  # fmt: skip
                faces = in_zones(faces, self.config.motion_zones, width, height)
                timings["face"] = _since(started)
                # A face track keeps its best match, so matching once a second is enough (about 20 ms a face).
                if self.recognizer is not None and faces and t_s - self._last_recognised_s >= RECOGNISE_EVERY_S:
                    started = time.perf_counter()
                    faces = self.recognizer.recognise(image, faces)
                    self._last_recognised_s = t_s
                    timings["recognition"] = _since(started)
                found += [d.scaled(scale) for d in faces]
            found = [d.scaled(scale) for d in reported] + found
            if regions is not None:
                looked = [(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
                          for x, y, w, h in regions]  # fmt: skip
        changes = self.tracker.update(found, t_s, jpeg, looked) if run_objects else TrackChanges()
        events += self._track_events(changes, now_s)
        if self.zone_rules is not None and run_objects:
            size = (image.shape[1] / scale, image.shape[0] / scale)
            events += self._apply_rules(self.zone_rules, changes, size, t_s, jpeg, now_s)
        objects = [DetectedObject(d.label, d.score, Box(*d.box), changes.assigned.get(i)) for i, d in enumerate(found)]
        occupancy = self.zone_rules.occupancy() if self.zone_rules is not None and self.zone_rules.zones else None
        return FrameResult(motion_boxes, objects, events, timings, occupancy)

    def _look_for_motion(self, image: np.ndarray, scale: float, t_s: float, jpeg: bytes, now_s: float,
                         timings: dict[str, float]) -> tuple[list[tuple[int, int, int, int]], list[Box], bool,
                                                             list[EventOut]]:  # fmt: skip
        """What moved (in the image's pixels, and in the frame's), whether anything moves, and motion events."""
        if self.motion is None:
            return [], [], False, []
        started = time.perf_counter()
        result = self.motion.update(image, t_s)
        timings["motion"] = _since(started)
        boxes = [_box(b, scale) for b in result.boxes]
        events = self._motion_events(result.started, result.ended, boxes, t_s, jpeg, now_s)
        return list(result.boxes), boxes, result.active or result.moving, events

    def _track_events(self, changes: TrackChanges, now_s: float) -> list[EventOut]:
        return [
            *(self._track_event(track, EventPhase.START, now_s) for track in changes.started),
            *(self._track_event(track, EventPhase.END, now_s) for track in changes.ended),
            *(self._track_event(track, EventPhase.END, now_s, stationary=True) for track in changes.stationary),
        ]

    def _apply_rules(self, rules: Rules, changes: TrackChanges, size: tuple[float, float], t_s: float, jpeg: bytes,
                     now_s: float) -> list[EventOut]:  # fmt: skip
        updated = set(changes.assigned.values())
        seen = [t for t in self.tracker.tracks if t.confirmed and t.id in updated]
        return [EventOut(r.event, r.snapshot) for r in rules.update(seen, changes.ended, size, t_s, jpeg, now_s)]

    def close(self, now_s: float) -> list[EventOut]:
        """End whatever is running: the worker is giving the camera up."""
        left = self.zone_rules.close(self.tracker.tracks, now_s) if self.zone_rules is not None else []
        ended = [self._track_event(t, EventPhase.END, now_s) for t in self.tracker.end_all()]
        ended += [EventOut(r.event, r.snapshot) for r in left]
        if self._motion_event is not None:
            ended.append(EventOut(self._motion_event.message(self.camera_id, EventPhase.END, now_s), None))
            self._motion_event = None
        if self._tamper_event is not None:
            ended.append(self._end_tamper(self._tamper_event, now_s))
        return ended

    def rereference(self, now_s: float) -> list[EventOut]:
        """The owner says the view now is the normal one: learnt again, and an open tamper ends."""
        if self.tamper is None:
            return []
        self.tamper.relearn()
        return [self._end_tamper(self._tamper_event, now_s)] if self._tamper_event is not None else []

    def _look_for_tamper(self, image: np.ndarray, t_s: float, jpeg: bytes, now_s: float,
                         timings: dict[str, float]) -> list[EventOut]:  # fmt: skip
        if self.tamper is None or t_s - self._last_tamper_look_s < TAMPER_LOOK_EVERY_S:
            return []
        self._last_tamper_look_s = t_s
        started = time.perf_counter()
        change = self.tamper.update(image, t_s)
        timings["tamper"] = _since(started)
        return self._tamper_events(change, t_s, jpeg, now_s)

    def _tamper_events(self, change: TamperChange, t_s: float, jpeg: bytes, now_s: float) -> list[EventOut]:
        if change.started is not None:
            self._tamper_event = Event(_event_id(self.camera_id), self.camera_id, EventType.TAMPER, EventPhase.START,
                                       change.since_s or t_s, None, None, None, 1, True, now_s,
                                       reason=str(change.started))  # fmt: skip
            return [EventOut(self._tamper_event, jpeg)]
        if change.ended and self._tamper_event is not None:
            return [self._end_tamper(self._tamper_event, t_s)]
        return []

    def _end_tamper(self, event: Event, at_s: float) -> EventOut:
        self._tamper_event = None
        return EventOut(replace(event, phase=EventPhase.END, ended_at_s=max(at_s, event.started_at_s)), None)

    def _motion_events(
        self, started: bool, ended: bool, boxes: list[Box], t_s: float, jpeg: bytes, now_s: float
    ) -> list[EventOut]:
        out: list[EventOut] = []
        if started:
            self._motion_event = MotionEvent(_event_id(self.camera_id), t_s, snapshot=True)
        event = self._motion_event
        if event is None:
            return out
        if boxes:
            event.saw(boxes, t_s)
        if started:
            out.append(EventOut(event.message(self.camera_id, EventPhase.START, now_s), jpeg))
        if ended:
            out.append(EventOut(event.message(self.camera_id, EventPhase.END, now_s), None))
            self._motion_event = None
        return out

    def _track_event(self, track: Track, phase: EventPhase, now_s: float, stationary: bool = False) -> EventOut:
        event_id = self._event_ids.setdefault(track.id, _event_id(self.camera_id))
        if phase is EventPhase.END:
            del self._event_ids[track.id]
        event = Event(
            event_id, self.camera_id, EventType.of_label(track.label), phase, track.first_s,
            track.last_s if phase is EventPhase.END else None, round(track.best_score, 3), Box(*track.best_box),
            track.frames, track.best_frame is not None, now_s, track.identity, track.similarity, track.label,
            stationary,
        )  # fmt: skip
        return EventOut(event, track.best_frame)


def _event_id(camera_id: int) -> str:
    return f"{camera_id}-{uuid.uuid4().hex[:16]}"


def _box(box: tuple[int, int, int, int], scale: float) -> Box:
    return Box(*(round(v / scale) for v in box))


def _union(boxes: list[Box]) -> Box:
    x1, y1 = min(b.x for b in boxes), min(b.y for b in boxes)
    x2, y2 = max(b.x + b.w for b in boxes), max(b.y + b.h for b in boxes)
    return Box(x1, y1, x2 - x1, y2 - y1)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 2)
