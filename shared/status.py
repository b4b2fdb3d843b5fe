"""The status record each camera's ingest process keeps in Redis (JSON, with a TTL).

JSON rather than msgpack so that `redis-cli GET camstream:camera:1:status` is readable.
A missing record means the camera is offline: its process is dead or cannot reach Redis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from shared.messages import dump_json_record, load_json_record, malformed

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
