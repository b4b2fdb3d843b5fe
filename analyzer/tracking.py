"""Tracking: an object seen over consecutive frames is one track, and one event.

Pure: detections and a time in, track changes out. A track is confirmed (its event
starts) once seen in `min_frames` frames, and ends when missed by `max_misses` looks in a row
and unseen for `min_gap_s` (and `recover_s`). Counting looks rather than seconds lets the caller
look rarely at a still scene (a person standing still stays one event) and often at a busy one.

Matching (issue 30: measured in `python -m analyzer.evaluate --tracking`, docs/analyzer.md): each
track predicts where it is now from its velocity (`predict`), and takes the detection of its label
that overlaps the prediction best (IoU `min_iou` or more); failing any overlap, the nearest one
whose centre is within GATE of its size and whose size is alike (a person walking further than
their own width between two looks at 5 fps). A track missed for a while keeps its place for
`recover_s` (a person behind a pillar), still predicted, and takes back the detection that
reappears where it would be: the same identity, the same event. Pairs are taken best first.

Stationary objects (Frigate's idea): a confirmed track of a label other than person and face
whose box has stayed put (overlapping where it stopped by STILL_IOU or more) for `stationary_s`
becomes stationary: its event ends then (the caller marks the end so) and the track lives on
without one, so a parked car is neither an event that never ends nor a new one at every look.
When it moves off, its track starts a new event.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer.detectors.detection import Detection
from analyzer.detectors.geometry import iou, looked_at

GATE = 1.0  # a detection's centre within this many of the track's sizes (its larger side) may be the track
GATE_GROWTH = 0.5  # ... plus this many sizes per second unseen (a lost track may have walked on)
SIZE_RATIO = 2.0  # a track and a detection whose areas differ more are not one object
VELOCITY_WEIGHT = 0.5  # of the newest step in a track's velocity
STILL_IOU = 0.6  # a box overlapping where the object stopped this much has not moved (detector jitter)
NEVER_STATIONARY = ("person", "face")  # people standing at the door stay one event for as long as they stand


@dataclass
class Track:
    id: int
    label: str
    box: tuple[int, int, int, int]
    first_s: float
    last_s: float
    best_score: float
    best_box: tuple[int, int, int, int]
    best_frame: Any = None  # whatever the caller wants kept with the best view (a JPEG)
    frames: int = 1
    misses: int = 0
    confirmed: bool = False
    identity: str | None = None  # faces: the known person at the best similarity so far
    similarity: float | None = None
    still_box: tuple[int, int, int, int] | None = None  # where it last stopped moving, and since when
    still_s: float = 0.0
    stationary: bool = False  # its event ended because it stood still; no event until it moves
    velocity: tuple[float, float] = (0.0, 0.0)  # of its box, pixels a second

    def predicted(self, t_s: float, predict: bool) -> tuple[float, float, float, float]:
        if not predict:
            return self.box
        dt = t_s - self.last_s
        x, y, w, h = self.box
        return (x + self.velocity[0] * dt, y + self.velocity[1] * dt, w, h)

    def moved_to(self, box: tuple[int, int, int, int], t_s: float) -> None:
        dt = t_s - self.last_s
        if dt > 0:
            step = ((box[0] - self.box[0]) / dt, (box[1] - self.box[1]) / dt)
            weight = VELOCITY_WEIGHT if self.frames > 1 else 1.0
            self.velocity = (self.velocity[0] + weight * (step[0] - self.velocity[0]),
                             self.velocity[1] + weight * (step[1] - self.velocity[1]))  # fmt: skip
        self.box, self.last_s = box, t_s

    def recognised(self, detection: Detection) -> None:
        """Keep the detection's match if it is the most similar seen on this track."""
        if detection.similarity is not None and (self.similarity is None or detection.similarity > self.similarity):
            self.identity, self.similarity = detection.identity, detection.similarity


@dataclass
class TrackChanges:
    started: list[Track] = field(default_factory=list)
    ended: list[Track] = field(default_factory=list)
    stationary: list[Track] = field(default_factory=list)  # stood still for stationary_s: their events end
    assigned: dict[int, int] = field(default_factory=dict)  # detection index -> track id


@dataclass
class Tracker:
    min_iou: float = 0.3
    min_frames: int = 2
    max_misses: int = 3
    min_gap_s: float = 1.0
    stationary_s: float | None = None  # None: nothing ever becomes stationary
    predict: bool = True  # match where a track would be now, from its velocity
    recover_s: float = 2.0  # a track missed this long may still take its object back
    tracks: list[Track] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def update(
        self, detections: list[Detection], t_s: float, frame: Any = None,
        looked: list[tuple[int, int, int, int]] | None = None,
    ) -> TrackChanges:  # fmt: skip
        """`looked`: the regions the detector read (None: the whole frame). A track elsewhere was
        not looked for, so its absence is not a miss."""
        changes = TrackChanges()
        unmatched = list(range(len(detections)))
        for label in {d.label for d in detections}:
            self._match(label, detections, unmatched, t_s, frame, changes)
        for i in unmatched:
            d = detections[i]
            track = Track(
                next(self._ids), d.label, d.box, t_s, t_s, d.score, d.box, frame, still_box=d.box, still_s=t_s
            )
            track.recognised(d)
            self.tracks.append(track)
            changes.assigned[i] = track.id
            self._maybe_confirm(track, changes)
        for track in list(self.tracks):
            if track.last_s < t_s and (looked is None or looked_at(track.box, looked)):
                track.misses += 1
            if track.misses >= self.max_misses and t_s - track.last_s >= max(self.min_gap_s, self.recover_s):
                self.tracks.remove(track)
                if track.confirmed and not track.stationary:
                    changes.ended.append(track)
        return changes

    def end_all(self) -> list[Track]:
        """Close every track that has an event open (the camera is going away)."""
        ended = [t for t in self.tracks if t.confirmed and not t.stationary]
        self.tracks.clear()
        return ended

    def _match(
        self,
        label: str,
        detections: list[Detection],
        unmatched: list[int],
        t_s: float,
        frame: Any,
        changes: TrackChanges,
    ) -> None:
        tracks = [t for t in self.tracks if t.label == label and t.last_s < t_s]
        candidates = [i for i in unmatched if detections[i].label == label]
        if not tracks or not candidates:
            return
        costs = self._costs(tracks, [detections[i].box for i in candidates], t_s)
        while costs.size and np.isfinite(costs).any():
            ti, di = np.unravel_index(np.argmin(costs), costs.shape)
            track, detection = tracks[ti], detections[candidates[di]]
            track.moved_to(detection.box, t_s)
            track.frames, track.misses = track.frames + 1, 0
            track.recognised(detection)
            if detection.score > track.best_score:
                track.best_score, track.best_box, track.best_frame = detection.score, detection.box, frame
            self._maybe_confirm(track, changes)
            self._still_or_moving(track, detection, t_s, frame, changes)
            changes.assigned[candidates[di]] = track.id
            unmatched.remove(candidates[di])
            costs[ti, :] = np.inf
            costs[:, di] = np.inf

    def _costs(self, tracks: list[Track], boxes: list[tuple[int, int, int, int]], t_s: float) -> np.ndarray:
        """Track x detection: 1 - IoU with the prediction where it overlaps enough, else 1 + the centre
        distance in track sizes where within the gate (any overlap first), inf where they cannot be one."""
        predicted = np.array([t.predicted(t_s, self.predict) for t in tracks], float)
        found = np.array(boxes, float)
        overlaps = iou(predicted, found)
        costs = np.where(overlaps >= self.min_iou, 1.0 - overlaps, np.inf)
        if not self.predict and self.recover_s <= 0:
            return costs  # IoU alone (how tracking was before issue 30; the evaluation's "before")
        centres_t = predicted[:, :2] + predicted[:, 2:] / 2
        centres_d = found[:, :2] + found[:, 2:] / 2
        distance = np.linalg.norm(centres_t[:, None, :] - centres_d[None, :, :], axis=2)
        size = np.maximum(predicted[:, 2:].max(axis=1), 1.0)[:, None]
        unseen_s = np.array([t_s - t.last_s for t in tracks], float)[:, None]
        area_t = (predicted[:, 2] * predicted[:, 3])[:, None]
        area_d = (found[:, 2] * found[:, 3])[None, :]
        alike = np.maximum(area_t, area_d) <= SIZE_RATIO * np.maximum(np.minimum(area_t, area_d), 1.0)
        near = (distance <= (GATE + GATE_GROWTH * unseen_s) * size) & alike
        result: np.ndarray = np.where(np.isfinite(costs), costs, np.where(near, 1.0 + distance / size, np.inf))
        return result

    def _still_or_moving(
        self, track: Track, detection: Detection, t_s: float, frame: Any, changes: TrackChanges
    ) -> None:
        if self.stationary_s is None or track.label in NEVER_STATIONARY:
            return
        still = track.still_box is not None and iou(np.array([track.still_box], float),
                                                     np.array([detection.box], float))[0, 0] >= STILL_IOU  # fmt: skip
        if not still:
            track.still_box, track.still_s = detection.box, t_s
            if track.stationary:  # it drives off: a new event, from this frame
                track.stationary = False
                track.first_s, track.frames, track.best_score = t_s, 1, detection.score
                track.best_box, track.best_frame = detection.box, frame
                changes.started.append(track)
        elif track.confirmed and not track.stationary and t_s - track.still_s >= self.stationary_s:
            track.stationary = True
            changes.stationary.append(track)

    def _maybe_confirm(self, track: Track, changes: TrackChanges) -> None:
        if not track.confirmed and track.frames >= self.min_frames:
            track.confirmed = True
            changes.started.append(track)
