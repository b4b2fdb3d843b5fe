"""The status records processes keep in Redis (JSON, with a TTL): each camera's (its ingest
process), each analyzer worker's, and the bridge's.

JSON rather than msgpack so that `redis-cli GET camstream:camera:1:status` is readable.
A missing record means its process is dead or cannot reach Redis (a camera: offline).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from shared.messages import MessageError, dump_json_record, known_fields, load_json_record, malformed

STATUS_VERSION = 1


class CameraState(StrEnum):
    STARTING = "starting"  # process up, source not opened yet
    CONNECTING = "connecting"  # opening the source
    STREAMING = "streaming"  # frames flowing to Redis
    RECONNECTING = "reconnecting"  # the source failed; waiting out the backoff, then reopening
    # The source cannot work without the user's action (missing file, refused login); retried at the longest backoff.
    FAILED = "failed"
    STOPPED = "stopped"  # stopped on request
    OFFLINE = "offline"  # never written by a camera: what readers report when the record has expired


@dataclass(frozen=True, slots=True)
class CameraStatus:
    camera_id: int
    state: CameraState
    fps: float  # frames a second at the camera's target rate, over the last few seconds
    frames_sent: int
    frames_dropped: int  # frames left out to keep the target fps
    frames_failed: int  # frames that could not be written to Redis in time
    reconnects: int
    last_error: str | None  # credentials masked
    last_frame_at_s: float | None  # wall-clock time of the last frame written
    updated_at_s: float
    source: str  # the source URL with credentials masked
    width: int | None = None
    height: int | None = None
    delay_ms_p50: float | None = None  # packet receipt to XADD done, over the last frames
    delay_ms_p95: float | None = None
    pid: int | None = None
    recording: str | None = None  # recording, waiting, paused (disk full), failed, off
    recording_error: str | None = None
    recorded_bytes: int | None = None
    # Frames written to the frame stream a second: the analysis rate, the camera's while someone reads it whole.
    frame_fps: float | None = None
    units_relayed: int | None = None  # the main stream's access units so far (RTSP cameras)
    host: str | None = None  # the ingest host running it (CAMSTREAM_INGEST_HOST)

    def encode(self) -> str:
        return dump_json_record(asdict(self), STATUS_VERSION)

    @classmethod
    def decode(cls, data: str | bytes) -> CameraStatus:
        record = load_json_record(data, "camera status", STATUS_VERSION)
        known = {name: record[name] for name in cls.__dataclass_fields__ if name in record}
        with malformed("camera status"):
            known["state"] = CameraState(known["state"])
            return cls(**known)


WORKER_STATUS_VERSION = 1
# Upper bounds of the inference-time histogram's buckets; a last one, +Inf, follows.
INFERENCE_BUCKETS_MS = (2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


@dataclass
class AnalysisCounters:
    """One camera's counters in a worker's status (the analyzer keeps them up to date)."""

    frames_analysed: int = 0
    frames_skipped: int = 0  # analysis slots missed because the worker was behind
    frames_bad: int = 0  # undecodable messages or JPEGs, counted and skipped
    detector_timeouts: int = 0
    lag_ms: float = 0.0  # capture to analysis done, of the last frame
    inference_ms: dict[str, float] = field(default_factory=dict)  # moving average per stage
    # Per stage: how many calls took at most each of INFERENCE_BUCKETS_MS (and +Inf), cumulative; and their sum.
    inference_counts: dict[str, list[int]] = field(default_factory=dict)
    inference_sum_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class WorkerStatus:
    worker_id: str
    pid: int
    host: str
    provider: str  # onnxruntime provider of the person detector, e.g. CPUExecutionProvider
    cameras: dict[str, AnalysisCounters]
    live_workers: list[str]
    updated_at_s: float

    def encode(self) -> str:
        return dump_json_record(asdict(self), WORKER_STATUS_VERSION)

    @classmethod
    def decode(cls, data: str | bytes) -> WorkerStatus:
        record = load_json_record(data, "analyzer status", WORKER_STATUS_VERSION)
        with malformed("analyzer status"):
            record["cameras"] = {k: AnalysisCounters(**v) for k, v in record["cameras"].items()}
            return cls(**{k: record[k] for k in cls.__dataclass_fields__})


BRIDGE_STATUS_VERSION = 1


@dataclass
class TargetStatus:
    """One delivery target of the bridge, as its status shows it (the bridge keeps it up to date)."""

    name: str  # mqtt, webhook:3, notify:5
    kind: str  # mqtt, webhook, notify
    label: str  # what an admin called it, or the masked broker URL
    connected: bool = True
    delivered: int = 0
    failures: int = 0  # attempts that failed (a retried delivery counts each time)
    given_up: int = 0  # deliveries abandoned after their retries
    skipped: int = 0  # too old when the target could take them again, or within a notification's cool-down
    queued: int = 0  # event messages on the stream after its place
    last_delivery_at: float | None = None
    last_error: str | None = None

    def succeeded(self) -> None:
        self.delivered += 1
        self.last_delivery_at = time.time()
        self.last_error = None


@dataclass
class BridgeStatus:
    """The bridge's status record (`camstream:bridge:status`): its targets, rewritten every few seconds."""

    started_at_s: float
    updated_at_s: float
    targets: list[TargetStatus]

    def encode(self) -> str:
        return dump_json_record(asdict(self), BRIDGE_STATUS_VERSION)

    @classmethod
    def decode(cls, data: str | bytes) -> BridgeStatus:
        record = load_json_record(data, "bridge status", BRIDGE_STATUS_VERSION)
        with malformed("bridge status"):
            targets = [_checked(TargetStatus(**known_fields(TargetStatus, t))) for t in record["targets"]]
            return cls(float(record["started_at_s"]), float(record["updated_at_s"]), targets)


def _checked(target: TargetStatus) -> TargetStatus:
    counts = (target.delivered, target.failures, target.given_up, target.skipped, target.queued)
    if (not all(isinstance(text, str) for text in (target.name, target.kind, target.label))
            or not isinstance(target.connected, bool)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
            or not isinstance(target.last_delivery_at, int | float | None)
            or not isinstance(target.last_error, str | None)):  # fmt: skip
        raise MessageError(f"bridge status: target {target.name!r} has a field of the wrong type")
    return target


ZONE_OCCUPANCY_VERSION = 1


@dataclass
class ZoneOccupancy:
    """How many tracks are in each of a camera's zones now (`camstream:camera:{id}:occupancy`), written
    by the worker analysing it when it changes and every second, with the lease's TTL."""

    camera_id: int
    zones: dict[str, int]
    updated_at_s: float

    def encode(self) -> str:
        return dump_json_record(asdict(self), ZONE_OCCUPANCY_VERSION)

    @classmethod
    def decode(cls, data: str | bytes) -> ZoneOccupancy:
        record = load_json_record(data, "zone occupancy", ZONE_OCCUPANCY_VERSION)
        with malformed("zone occupancy"):
            occupancy = cls(**known_fields(cls, record))
            zones = occupancy.zones
            if not isinstance(zones, dict) or not all(_is_count(k, v) for k, v in zones.items()):
                raise MessageError("zone occupancy: zones is not a map of names to counts")
            return occupancy


def _is_count(name: object, count: object) -> bool:
    return isinstance(name, str) and isinstance(count, int) and not isinstance(count, bool)
