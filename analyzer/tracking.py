"""Simple IoU tracking: an object seen over consecutive frames is one event.

Pure: detections and a time in, track changes out. A track is confirmed (its event
starts) once seen in `min_frames` frames, follows the best-overlapping detection of its
label in each frame, and ends when missed by `max_misses` looks in a row and unseen for
`min_gap_s`. Counting looks rather than seconds lets the caller look rarely at a still
scene (a person standing still stays one event) and often at a busy one.

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
            if track.misses >= self.max_misses and t_s - track.last_s >= self.min_gap_s:
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
        overlaps = iou(
            np.array([t.box for t in tracks], float), np.array([detections[i].box for i in candidates], float)
        )
        while overlaps.size and overlaps.max() >= self.min_iou:
            ti, di = np.unravel_index(np.argmax(overlaps), overlaps.shape)
            track, detection = tracks[ti], detections[candidates[di]]
            track.box, track.last_s, track.frames, track.misses = detection.box, t_s, track.frames + 1, 0
            track.recognised(detection)
            if detection.score > track.best_score:
                track.best_score, track.best_box, track.best_frame = detection.score, detection.box, frame
            self._maybe_confirm(track, changes)
            self._still_or_moving(track, detection, t_s, frame, changes)
            changes.assigned[candidates[di]] = track.id
            unmatched.remove(candidates[di])
            overlaps[ti, :] = -1
            overlaps[:, di] = -1

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
