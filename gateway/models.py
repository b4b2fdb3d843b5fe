"""Response models of the HTTP API. JSON is camelCase throughout (the first camera API's style,
kept by every route since)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.cameras import MAX_CAMERA_ID
from shared.detections import Event, EventPhase, EventType

# An id in a path that is looked up in the database: a number the database's integers hold (a
# larger one is a 422, not an overflow in the driver).
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# A camera id in a path: camera ids are the database's 32-bit integers (shared.cameras.MAX_CAMERA_ID).
CameraId = Annotated[int, Path(ge=1, le=MAX_CAMERA_ID)]


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


class PipelineOut(ApiModel):
    camera_id: int
    ingest_state: str
    ingest_fps: float | None  # frames a second at the camera's rate
    ingest_frame_fps: float | None  # JPEG frames a second to the frame stream: analysis rate, or full while read whole
    frames_dropped: int | None
    analyzer: str | None
    analyzer_lag_ms: float | None
    frames_skipped: int | None
    recording: str  # recording, waiting, paused (disk full), failed, off; offline when ingest is
    recording_error: str | None
    recorded_bytes: int  # on disk now (the index)
    oldest_recording: float | None  # Unix seconds of the oldest footage kept


class SessionOut(ApiModel):
    session_id: str
    camera_id: int
    connection_state: str
    created_at: float
    frames_sent: int
    overlay: bool
    codec: str | None
    mode: str  # "passthrough" (the camera's own stream) or "transcoded" (the shared encoder)
    audio: str | None  # "passthrough" (the camera's own G.711), "opus" (transcoded once per camera), or none


class StreamsStatus(ApiModel):
    sessions: list[SessionOut]
    cameras: list[PipelineOut]


class BoxOut(ApiModel):
    x: int
    y: int
    w: int
    h: int


class EventOut(ApiModel):
    """An event in its latest state, as /api/events and /ws/events give it."""

    id: str
    camera_id: int
    type: EventType
    phase: EventPhase  # start while it lasts, end once it is over
    started_at: float  # Unix time of the first frame it was seen in
    ended_at: float | None  # of the last; None while it lasts
    score: float | None  # best score (None for motion)
    box: BoxOut | None  # at the best score, in the camera's full-frame pixels
    frames: int  # analysed frames it was seen in
    snapshot_url: str | None  # the picture of its best moment, if one was kept
    published_at: float
    identity: str | None = None  # faces: the enrolled person recognised (None: unknown, or not a face)
    similarity: float | None = None  # faces: to the closest enrolled person
    label: str | None = None  # what was seen: person, face, car, dog, ... (None: motion)
    stationary: bool = False  # ended because the object stood still (analysis.stationary_s)
    reason: str | None = None  # health and tamper events: why (a recording gap's "disk full", "covered")
    zone: str | None = None  # rule events: the zone's name
    line: str | None = None  # line_crossed: the line's name
    direction: str | None = None  # line_crossed: in or out
    track_id: int | None = None  # rule events: the track (one person walking through)

    @classmethod
    def of(cls, event: Event) -> EventOut:
        box = BoxOut(x=event.box.x, y=event.box.y, w=event.box.w, h=event.box.h) if event.box else None
        return cls(
            id=event.id, camera_id=event.camera_id, type=event.type, phase=event.phase,
            started_at=event.started_at_s, ended_at=event.ended_at_s, score=event.score, box=box,
            frames=event.frames, snapshot_url=f"/api/events/{event.id}/snapshot.jpg" if event.snapshot else None,
            published_at=event.published_at_s, identity=event.identity, similarity=event.similarity,
            label=event.label, stationary=event.stationary, reason=event.reason, zone=event.zone, line=event.line,
            direction=event.direction, track_id=event.track_id,
        )  # fmt: skip


class EventsPage(ApiModel):
    events: list[EventOut]
    next_cursor: str | None  # pass as `cursor` for the next (older) page


class Health(ApiModel):
    status: str
    problems: list[str] = []


class WorkerOut(ApiModel):
    worker_id: str
    host: str
    provider: str  # onnxruntime execution provider of the person detector
    cameras: list[int]


class IngestHostOut(ApiModel):
    host: str  # CAMSTREAM_INGEST_HOST
    group: str | None  # CAMSTREAM_INGEST_GROUP
    fenced: bool  # CAMSTREAM_INGEST_SHARED: its cameras stop when it cannot renew their leases
    pid: int  # its manager's
    cameras: list[int]  # the cameras it runs
    load: float  # their weights: estimated per cent of a core
    cpu_percent: float | None  # measured: its manager and camera processes, per cent of a core
    cores: int | None
    restarts: int  # camera processes its manager restarted
    updated_at: float  # its last heartbeat (Unix time)


class SystemOut(ApiModel):
    redis: bool
    database: bool
    ingest: bool  # any ingest host alive
    ingest_hosts: list[IngestHostOut] = []  # each live ingest host, by name
    ingest_unplaced: list[int] = []  # enabled cameras no live ingest host may run (no host in their group)
    workers: list[WorkerOut]
    sessions: int
    recordings: RecordingsDisk
    registry: RegistryOut | None  # only when CAMSTREAM_CAMERA_REGISTRY_URL is set
    bridge: BridgeOut  # MQTT, webhooks and notifications (bridge/)
    camera_file: CameraFileOut | None = None  # the camera file refused: the last good cameras run meanwhile


class CameraFileOut(ApiModel):
    problem: str  # where and why (a field, a line), never a value
    since: float  # refused since (Unix time)


class RegistryOut(ApiModel):
    url: str  # credentials masked
    ok: bool
    error: str | None  # why the last fetch failed (the last good list stays in force)
    last_sync_at: float | None
    cameras: int


class RecordingHostOut(ApiModel):
    host: str
    url: str | None  # where its recorder serves its footage (admins only)
    disk_total: int
    disk_free: int
    updated_at: float  # when its recorder last said so (every pass: a few seconds)


class RecordingsDisk(ApiModel):
    bytes: int | None  # recordings kept (the index); None while the database is away
    disk_total: int | None  # the recordings' file system (this gateway's)
    disk_free: int | None
    disk_floor: int | None = None  # kept free by deleting the oldest footage (shared.disk_floor)
    hosts: list[RecordingHostOut] = []  # hosts whose footage stays on their own disk (CAMSTREAM_RECORDINGS_URL)


class TimelineMarker(ApiModel):
    id: str
    type: str  # motion, person or face
    start: float  # Unix seconds
    end: float | None  # None while it lasts


class RecordedRange(ApiModel):
    camera_id: int
    start: float  # Unix seconds
    end: float
    bytes: int
    events: list[TimelineMarker]  # person and face events in the range
    motion: list[TimelineMarker]


class RecordingsOut(ApiModel):
    recordings: list[RecordedRange]


class CoverageDayOut(ApiModel):
    day: str  # UTC date, YYYY-MM-DD
    required: float  # seconds the mode asked for footage
    kept: float  # of those, seconds kept
    fraction: float | None  # kept / required; None when nothing was asked for


class CoverageGapOut(ApiModel):
    start: float  # Unix seconds
    end: float
    cause: str | None  # "camera offline (...)", "disk full", ...; None when not known


class CameraCoverageOut(ApiModel):
    camera_id: int
    mode: str  # the recording mode judged by: continuous, motion, events or off
    required: float
    kept: float
    fraction: float | None
    days: list[CoverageDayOut]
    gaps: list[CoverageGapOut]


class CoverageOut(ApiModel):
    since: float
    until: float  # the end judged: the request's, or the last finished segment's time at the latest
    cameras: list[CameraCoverageOut]


class ProbeOut(ApiModel):
    codec: str | None  # FFmpeg's name: h264 or hevc
    width: int
    height: int
    fps: float | None
    keyframe_interval_s: float | None  # None: fewer than two keyframes while probing (9 s)
    audio: str | None  # pcm_mulaw, pcm_alaw, aac, or the SDP's name of another; None without audio
    tls_fingerprint: str | None = None  # rtsps: the certificate's SHA-256, to pin as the camera's tls_fingerprint


class BridgeTargetOut(ApiModel):
    name: str  # mqtt, webhook:3, notify:5
    kind: str  # mqtt, webhook, notify
    label: str  # the target's name, or the broker's URL (credentials masked)
    connected: bool
    delivered: int
    failures: int
    given_up: int
    skipped: int  # too old when the target could take them again, or within a notification's cool-down
    queued: int  # event messages after its place in the stream
    last_delivery_at: float | None
    last_error: str | None


class BridgeOut(ApiModel):
    alive: bool  # the bridge wrote its status lately
    targets: list[BridgeTargetOut]
