"""Wire schemas of what the analyzer publishes: per-frame detections and events.

Detections travel as msgpack maps on each camera's detections stream (the gateway's
overlay reads them); events as JSON on pub/sub and on the events history stream, so that
`redis-cli SUBSCRIBE camstream:events` is readable as it is. Boxes are maps of pixels of
the camera's full frame. Versioning as in shared.messages: additive within a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import msgpack

from shared import keys
from shared.messages import (
    MessageError,
    check_version,
    dump_json_record,
    entry_payload,
    load_json_record,
    malformed,
    require_field,
    unpack_map,
)

DETECTIONS_VERSION = 1
EVENT_VERSION = 1
OPTIONAL_EVENT_FIELDS = ("identity", "similarity", "label", "reason", "zone", "line", "direction", "track_id")


@dataclass(frozen=True, slots=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @classmethod
    def from_map(cls, value: Any) -> Box:
        if not isinstance(value, dict):
            raise MessageError("box: expected a map")
        return cls(*(require_field(value, k, int) for k in ("x", "y", "w", "h")))


@dataclass(frozen=True, slots=True)
class DetectedObject:
    label: str  # "person", "face" or an object's COCO label ("car", "dog", ...)
    score: float
    box: Box
    track_id: int | None = None


@dataclass(frozen=True, slots=True)
class FrameDetections:
    camera_id: int
    seq: int  # the analysed frame's seq on the frame stream
    captured_at_s: float
    analysed_at_s: float
    width: int
    height: int
    worker: str
    motion: list[Box] = field(default_factory=list)
    objects: list[DetectedObject] = field(default_factory=list)

    def encode(self) -> bytes:
        record = asdict(self)
        record["v"] = DETECTIONS_VERSION
        packed: bytes = msgpack.packb(record, use_bin_type=True)
        return packed

    @classmethod
    def decode(cls, data: bytes) -> FrameDetections:
        fields = unpack_map(data, "detections")
        check_version(fields, "detections", DETECTIONS_VERSION)
        with malformed("detections"):
            objects = [
                DetectedObject(
                    label=require_field(o, "label", str),
                    score=float(require_field(o, "score", (float, int))),
                    box=Box.from_map(require_field(o, "box", dict)),
                    track_id=o.get("track_id"),
                )
                for o in require_field(fields, "objects", list)
            ]
            return cls(
                camera_id=require_field(fields, "camera_id", int),
                seq=require_field(fields, "seq", int),
                captured_at_s=float(require_field(fields, "captured_at_s", (float, int))),
                analysed_at_s=float(require_field(fields, "analysed_at_s", (float, int))),
                width=require_field(fields, "width", int),
                height=require_field(fields, "height", int),
                worker=require_field(fields, "worker", str),
                motion=[Box.from_map(b) for b in require_field(fields, "motion", list)],
                objects=objects,
            )

    @classmethod
    def from_entry(cls, fields: Mapping[bytes, bytes]) -> FrameDetections:
        """The detections in an entry of a detections stream (new field name, or the old one)."""
        return cls.decode(entry_payload(fields, keys.DETECTIONS_FIELD))


class EventType(StrEnum):
    MOTION = "motion"
    PERSON = "person"
    FACE = "face"
    OBJECT = "object"  # anything else the object model knows; its `label` says what
    # The system's own health, not a detection (the recorder's): a camera whose mode asks for footage
    # is not getting any; `reason` says why (disk full, cannot write: ...).
    RECORDING_GAP = "recording_gap"
    # A camera that delivered no frame for its offline window (CAMSTREAM_CAMERA_OFFLINE_S); `reason` says
    # what its process last saw (refused, timed out, its process not running).
    OFFLINE = "offline"
    # The analyzer's: the camera covered, blinded, moved or defocused (`reason` says which). A scene
    # event in every other way (it keeps footage, a worker ends it), and a problem of the camera.
    TAMPER = "tamper"
    # The analyzer's rules (analysis.zones and analysis.lines; docs/rules.md): a track crossing a line
    # (`line`, `direction`), entering or leaving a zone, lingering in one (`zone`); each with its `track_id`.
    LINE_CROSSED = "line_crossed"
    ZONE_ENTERED = "zone_entered"
    ZONE_LEFT = "zone_left"
    LOITERING = "loitering"

    @property
    def is_health(self) -> bool:
        """About the system rather than the scene: never keeps footage, never ended by a worker."""
        return self in HEALTH_TYPES

    @property
    def is_problem(self) -> bool:
        """The camera stopped being useful (a health event or a tamper): MQTT's problem sensor, its own
        notification cooldown."""
        return self in PROBLEM_TYPES

    @classmethod
    def of_label(cls, label: str) -> EventType:
        """People and faces keep their own types (what every reader since version 1 knows)."""
        return cls.PERSON if label == "person" else cls.FACE if label == "face" else cls.OBJECT


HEALTH_TYPES = frozenset({EventType.RECORDING_GAP, EventType.OFFLINE})
HEALTH_TYPE_NAMES = tuple(str(t) for t in HEALTH_TYPES)
PROBLEM_TYPES = HEALTH_TYPES | {EventType.TAMPER}


class EventPhase(StrEnum):
    START = "start"  # first message of an event: it is happening now
    END = "end"  # last message: ended_at_s, best score and box are final


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    camera_id: int
    type: EventType
    phase: EventPhase
    started_at_s: float  # capture time of the first frame of the event
    ended_at_s: float | None  # capture time of the last frame of the event; None while it lasts
    score: float | None  # best score over the event (None for motion)
    box: Box | None  # the box at the best score (motion: the union of moving areas)
    frames: int  # analysed frames in which it was seen
    snapshot: bool  # whether a snapshot JPEG is stored with it in the database (shared.db.events)
    published_at_s: float
    # Face events of a recognised person (added within version 1: absent when None, and readers of
    # older messages get None): the enrolled name at the best similarity, and that similarity.
    identity: str | None = None
    similarity: float | None = None
    # Added within version 1 too: what was seen (person, face, car, dog, ...; None for motion; a
    # reader of an older message gets its type's label), and, on an end, whether the event ended
    # because the object stood still for `analysis.stationary_s` (absent when false).
    label: str | None = None
    stationary: bool = False
    # Added within version 1 too: why a health event happened (a recording gap's "disk full").
    reason: str | None = None
    # Added within version 1 too, on rule events: the zone or the line, the way it was crossed (`in` or
    # `out`), and the track (its id within the worker that analysed it).
    zone: str | None = None
    line: str | None = None
    direction: str | None = None
    track_id: int | None = None

    def __post_init__(self) -> None:
        if self.label is None and self.type in (EventType.PERSON, EventType.FACE):
            object.__setattr__(self, "label", str(self.type))

    def encode(self) -> str:
        record = asdict(self)
        for name in OPTIONAL_EVENT_FIELDS:
            if record[name] is None:
                del record[name]
        if not record["stationary"]:
            del record["stationary"]
        return dump_json_record(record, EVENT_VERSION)

    @classmethod
    def decode(cls, data: str | bytes) -> Event:
        record = load_json_record(data, "event", EVENT_VERSION)
        with malformed("event"):
            optional = (*OPTIONAL_EVENT_FIELDS, "stationary")
            known = {name: record[name] for name in cls.__dataclass_fields__ if name not in optional}
            known.update({name: record.get(name) for name in OPTIONAL_EVENT_FIELDS})
            known["stationary"] = record.get("stationary", False)
            if not isinstance(known["identity"], str | None) or not isinstance(known["similarity"], int | float | None):
                raise TypeError("identity must be text and similarity a number")
            if not isinstance(known["label"], str | None) or not isinstance(known["stationary"], bool):
                raise TypeError("label must be text and stationary true or false")
            if not all(isinstance(known[name], str | None) for name in ("reason", "zone", "line", "direction")):
                raise TypeError("reason, zone, line and direction must be text")
            if isinstance(known["track_id"], bool) or not isinstance(known["track_id"], int | None):
                raise TypeError("track_id must be a whole number")
            known["type"] = EventType(known["type"])
            known["phase"] = EventPhase(known["phase"])
            known["box"] = Box.from_map(known["box"]) if known["box"] is not None else None
            return cls(**known)

    @classmethod
    def from_entry(cls, fields: Mapping[bytes, bytes]) -> Event:
        """The event in an entry of the events history stream."""
        return cls.decode(entry_payload(fields, keys.EVENT_FIELD))
