"""Response models of the HTTP API. JSON is camelCase, as the seed's API is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class CameraOut(ApiModel):
    id: int
    name: str
    location: str
    channel: int
    enabled: bool
    status: str  # ingest state: streaming, reconnecting, ..., or offline when ingest is silent
    analysis_enabled: bool
    webrtc_url: str  # POST here to start a WebRTC session
    snapshot_url: str
    mjpeg_url: str
    fps: float | None  # measured by ingest
    target_fps: float
    width: int | None
    height: int | None
    last_frame_at: float | None  # Unix time
    last_error: str | None  # credentials masked
    analyzer: str | None  # the worker analysing it, if any


class CameraPipeline(ApiModel):
    camera_id: int
    ingest_state: str
    ingest_fps: float | None
    frames_dropped: int | None
    analyzer: str | None
    analyzer_lag_ms: float | None
    frames_skipped: int | None


class SessionOut(ApiModel):
    session_id: str
    camera_id: int
    connection_state: str
    created_at: float
    frames_sent: int
    overlay: bool
    codec: str | None


class StreamsStatus(ApiModel):
    sessions: list[SessionOut]
    cameras: list[CameraPipeline]


class EventsPage(ApiModel):
    events: list[dict[str, object]]  # event messages as in docs/redis-contract.md
    next_cursor: str | None  # pass as `cursor` for the next (older) page


class Health(ApiModel):
    status: str
    problems: list[str] = []


class WorkerOut(ApiModel):
    worker_id: str
    host: str
    provider: str  # onnxruntime execution provider of the person detector
    cameras: list[int]


class SystemOut(ApiModel):
    redis: bool
    ingest: bool
    workers: list[WorkerOut]
    sessions: int
