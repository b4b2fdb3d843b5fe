"""Prometheus metrics of the whole system, as the gateway sees it, written by prometheus_client.

Ingest and the analyzer keep their numbers in their status records in Redis; at each scrape
the gateway reads them once and a custom collector turns them into metric families (with
labels escaped by the library). The gateway's own numbers (WebRTC feeds and sessions, its
shared readers, request times) and the process's (CPU, memory, file descriptors) come too.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis
from prometheus_client import CollectorRegistry, Histogram, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.coverage import camera_coverage, judged_until
from shared.cameras import Camera
from shared.db import recording_hosts
from shared.db.engine import DatabaseUnavailable
from shared.db.recording_hosts import RecordingHost
from shared.ingest_hosts import IngestHost
from shared.settings import Settings
from shared.status import INFERENCE_BUCKETS_MS, BridgeStatus, CameraStatus, WorkerStatus

if TYPE_CHECKING:
    from gateway.bus.store import Store
    from gateway.webrtc.audio import AudioStats
    from gateway.webrtc.feed import EncoderStats
    from shared.db.recordings import RecordingIndex

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COVERAGE_WINDOW_S = 86400.0
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


@dataclass(frozen=True)
class LiveFigures:
    """The gateway's own numbers at one moment, taken by its state (gateway.state.Gateway.live_figures):
    the metrics read these, never the gateway's objects."""

    camera_ids: list[int]
    sessions_open: int
    sessions_refused: int
    frames_sent: int  # over all open sessions
    feeds: dict[tuple[int, bool], EncoderStats]  # (camera, overlay): its shared encoder's counters
    audio: dict[int, AudioStats]
    frame_listeners: dict[int, int]  # per camera: clients of its shared frame reader
    event_listeners: int
    frames_bad: dict[int, int]  # per camera: unreadable frame entries skipped


@dataclass
class SystemReading:
    """What the other processes said of themselves (Redis) and what the recordings hold, read at a scrape."""

    redis_up: bool = False
    statuses: dict[int, CameraStatus] = field(default_factory=dict)
    workers: list[WorkerStatus] = field(default_factory=list)
    hosts: dict[str, IngestHost] = field(default_factory=dict)  # live ingest hosts
    recordings: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # bytes, segments, oldest ms
    disk: tuple[int, int] | None = None  # total and free bytes of the recordings' file system
    disks: list[RecordingHost] = field(default_factory=list)  # hosts whose footage stays on their own disk
    coverage: dict[int, float] = field(default_factory=dict)  # camera: kept of required footage, last 24 h
    bridge: BridgeStatus | None = None  # the bridge's status (bridge/service.py), if it wrote one lately


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Histogram(
            "camstream_http_request_seconds", "HTTP requests to the gateway, to the start of the response.",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )  # fmt: skip
        self._system = _SystemCollector()
        self.registry.register(self._system)

    def render(self, reading: SystemReading, live: LiveFigures) -> bytes:
        self._system.live, self._system.reading = live, reading
        return generate_latest(self.registry)


async def read_system(store: Store, recordings: RecordingIndex, cameras: list[Camera],
                      settings: Settings) -> SystemReading:  # fmt: skip
    """The statuses in Redis, the recordings index's summary and coverage, and the recordings disk:
    what is not down."""
    reading = SystemReading()
    try:
        reading.statuses, _owners = await store.cameras_and_owners([c.id for c in cameras])
        reading.workers = await store.workers()
        reading.hosts = await store.ingest_hosts()
        reading.bridge = await store.bridge_status()
        reading.redis_up = True
    except redis.RedisError:
        pass
    with contextlib.suppress(SQLAlchemyError, DatabaseUnavailable):
        reading.recordings = await recordings.summary()
        reading.disks = list((await recording_hosts.every(recordings.engine)).values())
        until = judged_until(settings, time.time())
        for camera in cameras:
            fraction = (await camera_coverage(recordings, camera, until - COVERAGE_WINDOW_S, until)).fraction
            if fraction is not None:
                reading.coverage[camera.id] = fraction
    with contextlib.suppress(OSError):
        usage = await asyncio.to_thread(shutil.disk_usage, settings.recordings_root)
        reading.disk = (usage.total, usage.free)
    return reading


class _SystemCollector(Collector):
    def __init__(self) -> None:
        self.live: LiveFigures | None = None
        self.reading = SystemReading()

    def collect(self) -> Iterator[Metric]:
        if self.live is None:
            return
        yield from _ingest(self.live.camera_ids, self.reading)
        yield from _ingest_hosts(self.reading.hosts)
        yield from _analyzer(self.reading.workers)
        yield from _gateway(self.live)
        yield from _recordings(self.reading)
        yield from _bridge(self.reading)


def _gauge(name: str, text: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"camstream_{name}", text, labels=labels)


def _counter(name: str, text: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(f"camstream_{name}", text, labels=labels)


def _ingest(camera_ids: list[int], reading: SystemReading) -> Iterator[Metric]:
    up = _gauge("redis_up", "1 when the gateway's last read of Redis worked.", [])
    up.add_metric([], 1.0 if reading.redis_up else 0.0)
    fps = _gauge("ingest_fps", "Frames per second at the camera's rate.", ["camera"])
    frame_fps = _gauge("ingest_frame_fps", "JPEG frames per second written to the frame stream.", ["camera"])
    dropped = _counter("ingest_frames_dropped", "Frames left out to hold the target fps.", ["camera"])
    failed = _counter("ingest_frames_failed", "Frames not written to Redis in time.", ["camera"])
    camera_up = _gauge("camera_up", "1 while ingest reports the camera streaming.", ["camera"])
    for camera_id in camera_ids:
        label = [str(camera_id)]
        status = reading.statuses.get(camera_id)
        camera_up.add_metric(label, 1.0 if status is not None and status.state == "streaming" else 0.0)
        if status is not None:
            fps.add_metric(label, status.fps)
            frame_fps.add_metric(label, status.frame_fps or 0.0)
            dropped.add_metric(label, status.frames_dropped)
            failed.add_metric(label, status.frames_failed)
    yield from (up, fps, frame_fps, dropped, failed, camera_up)


def _ingest_hosts(hosts: dict[str, IngestHost]) -> Iterator[Metric]:
    """Per ingest host (shared.ingest_hosts): what it runs and what that costs it."""
    alive = _gauge("ingest_hosts", "Ingest hosts whose manager heartbeats.", [])
    alive.add_metric([], float(len(hosts)))
    cameras = _gauge("ingest_host_cameras", "Cameras the ingest host runs.", ["host"])
    load = _gauge("ingest_host_load", "The weights of its cameras: estimated per cent of a core.", ["host"])
    cpu = _gauge("ingest_host_cpu_percent", "Measured CPU of its manager and camera processes, per cent of a core.",
                 ["host"])  # fmt: skip
    restarts = _counter("ingest_host_camera_restarts", "Camera processes restarted by its manager.", ["host"])
    runs_on = _gauge("camera_ingest_host", "1 for the ingest host that runs the camera.", ["camera", "host"])
    unplaced = _gauge("ingest_unplaced_cameras", "Enabled cameras no live ingest host may run (their group has "
                      "none).", [])  # fmt: skip
    unplaced.add_metric([], float(max((len(h.unplaced) for h in hosts.values()), default=0)))
    for name, host in sorted(hosts.items()):
        cameras.add_metric([name], float(len(host.cameras)))
        load.add_metric([name], host.load)
        if host.cpu_percent is not None:
            cpu.add_metric([name], host.cpu_percent)
        restarts.add_metric([name], float(sum(host.restarts.values())))
        for camera in host.cameras:
            runs_on.add_metric([camera, name], 1.0)
    yield from (alive, cameras, load, cpu, restarts, runs_on, unplaced)


def _analyzer(workers: list[WorkerStatus]) -> Iterator[Metric]:
    alive = _gauge("analyzer_workers", "Analyzer workers alive.", [])
    alive.add_metric([], float(len(workers)))
    lag = _gauge("analyzer_lag_ms", "Capture to end of analysis of the last frame.", ["camera"])
    skipped = _counter("analyzer_frames_skipped", "Analysis slots missed because a worker was behind.", ["camera"])
    bad = _counter("analyzer_frames_bad", "Bad frames counted and skipped.", ["camera"])
    average = _gauge("analyzer_inference_ms", "Moving average of each detector stage.", ["camera", "stage"])
    inference = HistogramMetricFamily(
        "camstream_analyzer_inference_seconds", "Time of each detector stage per analysed frame, since the "
        "worker took the camera.", labels=["camera", "stage"],
    )  # fmt: skip
    for worker in workers:
        for camera, counters in worker.cameras.items():
            lag.add_metric([camera], counters.lag_ms)
            skipped.add_metric([camera], counters.frames_skipped)
            bad.add_metric([camera], counters.frames_bad)
            for stage, ms in counters.inference_ms.items():
                average.add_metric([camera, stage], ms)
            for stage, counts in counters.inference_counts.items():
                if len(counts) != len(INFERENCE_BUCKETS_MS) + 1:
                    continue  # a worker of another version
                bounds = [*(str(b / 1000) for b in INFERENCE_BUCKETS_MS), "+Inf"]
                total_s = counters.inference_sum_ms.get(stage, 0.0) / 1000
                inference.add_metric([camera, stage], list(zip(bounds, counts, strict=True)), total_s)
    yield from (alive, lag, skipped, bad, average, inference)


def _gateway(live: LiveFigures) -> Iterator[Metric]:
    open_sessions = _gauge("webrtc_sessions", "WebRTC sessions open.", [])
    open_sessions.add_metric([], float(live.sessions_open))
    refused = _counter("webrtc_sessions_refused", "New sessions refused while too many were connecting.", [])
    refused.add_metric([], live.sessions_refused)
    sent = _counter("webrtc_frames_sent", "Frames sent, over all open sessions.", [])
    sent.add_metric([], float(live.frames_sent))
    labels = ["camera", "overlay"]
    encoded = _counter("webrtc_frames_encoded", "Frames encoded by the shared per-camera encoder.", labels)
    encode_ms = _counter("webrtc_encode_ms", "Time spent encoding, in milliseconds.", labels)
    packets = _counter("webrtc_packets_sent", "Encoded packets handed to viewers (one per viewer).", labels)
    keyframes = _counter("webrtc_keyframes", "Keyframes made (a viewer joined, or once a second).", labels)
    feed_bad = _counter("webrtc_frames_bad", "Frames the WebRTC encoder could not use: skipped.", labels)
    for (camera_id, overlay), stats in live.feeds.items():
        label = [str(camera_id), str(overlay).lower()]
        encoded.add_metric(label, stats.frames_encoded)
        encode_ms.add_metric(label, round(stats.encode_ms_total, 1))
        packets.add_metric(label, stats.packets_sent)
        keyframes.add_metric(label, stats.keyframes)
        feed_bad.add_metric(label, stats.frames_bad)
    passed = _counter("webrtc_audio_packets_passed", "The camera's own G.711 packets, one per viewer.", ["camera"])
    opus = _counter("webrtc_audio_packets_encoded", "Opus packets made by the shared per-camera encoder.", ["camera"])
    audio_bad = _counter("webrtc_audio_units_bad", "Audio units the gateway could not decode: skipped.", ["camera"])
    for camera_id, sound in live.audio.items():
        passed.add_metric([str(camera_id)], sound.packets_passed)
        opus.add_metric([str(camera_id)], sound.packets_encoded)
        audio_bad.add_metric([str(camera_id)], sound.units_bad)
    listeners = _gauge("live_listeners", "Clients of the gateway's shared readers (MJPEG, feeds, /ws/events).",
                       ["reader"])  # fmt: skip
    for camera_id, count in live.frame_listeners.items():
        listeners.add_metric([f"camera={camera_id}"], float(count))
    listeners.add_metric(["events"], float(live.event_listeners))
    unreadable = _counter("gateway_frames_bad", "Unreadable frame entries the gateway skipped.", ["camera"])
    for camera_id, count in live.frames_bad.items():
        unreadable.add_metric([str(camera_id)], count)
    yield from (open_sessions, refused, sent, encoded, encode_ms, packets, keyframes, feed_bad, passed, opus, audio_bad)
    yield from (listeners, unreadable)


def _recordings(reading: SystemReading) -> Iterator[Metric]:
    kept = _gauge("recordings_bytes", "Bytes of recordings kept, per camera (the index).", ["camera"])
    segments = _gauge("recordings_segments", "Recording segments kept, per camera.", ["camera"])
    oldest = _gauge("recordings_oldest_timestamp_seconds", "Unix time of the oldest footage kept.", ["camera"])
    for camera_id, (size, count, oldest_ms) in reading.recordings.items():
        kept.add_metric([str(camera_id)], float(size))
        segments.add_metric([str(camera_id)], float(count))
        oldest.add_metric([str(camera_id)], oldest_ms / 1000)
    state = _gauge("recording_state", "1 for each camera's recording state (recording, paused, failed...).",
                   ["camera", "state"])  # fmt: skip
    for camera_id, status in reading.statuses.items():
        state.add_metric([str(camera_id), status.recording or "off"], 1.0)
    coverage = _gauge("recording_coverage_ratio", "Of the footage the camera's mode asked for in the last 24 h, "
                      "the share kept (cameras that asked for none are left out).", ["camera"])  # fmt: skip
    for camera_id, fraction in reading.coverage.items():
        coverage.add_metric([str(camera_id)], fraction)
    yield from (kept, segments, oldest, state, coverage)
    if reading.disk is not None:
        total = _gauge("recordings_disk_total_bytes", "Size of the recordings' file system.", [])
        total.add_metric([], float(reading.disk[0]))
        free = _gauge("recordings_disk_free_bytes", "Free space on the recordings' file system.", [])
        free.add_metric([], float(reading.disk[1]))
        yield from (total, free)
    yield from _recording_hosts(reading.disks)


def _recording_hosts(disks: list[RecordingHost]) -> Iterator[Metric]:
    if not disks:
        return
    total = _gauge("recording_host_disk_total_bytes", "Size of the disk of a host that keeps its own footage.",
                   ["host"])  # fmt: skip
    free = _gauge("recording_host_disk_free_bytes", "Free space on the disk of a host that keeps its own footage.",
                  ["host"])  # fmt: skip
    said = _gauge("recording_host_updated_timestamp_seconds", "When that host's recorder last said so (every pass: "
                  "a few seconds; older means the recorder is down or cut off).", ["host"])  # fmt: skip
    for disk in disks:
        total.add_metric([disk.name], float(disk.total_bytes))
        free.add_metric([disk.name], float(disk.free_bytes))
        said.add_metric([disk.name], disk.updated_at_s)
    yield from (total, free, said)


class RequestTimer:
    """ASGI middleware: time from request to response start, by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")  # the template: bounded label values
                method = scope["method"] if scope["method"] in METHODS else "other"
                self.metrics.requests.labels(method, path, str(message["status"])).observe(
                    time.perf_counter() - started
                )
            await send(message)

        await self.app(scope, receive, timed_send)


def _bridge(reading: SystemReading) -> Iterator[Metric]:
    up = _gauge("bridge_up", "1 when the bridge (MQTT, webhooks, notifications) wrote its status lately.", [])
    up.add_metric([], 1.0 if reading.bridge is not None else 0.0)
    yield up
    targets = reading.bridge.targets if reading.bridge is not None else []
    labels = ["target", "kind"]
    connected = _gauge("bridge_target_connected", "1 while the target takes deliveries.", labels)
    queued = _gauge("bridge_target_queued", "Event messages after the target's place in the stream.", labels)
    delivered = _counter("bridge_target_delivered", "Events delivered, since the bridge started.", labels)
    failures = _counter("bridge_target_failures", "Failed delivery attempts, since the bridge started.", labels)
    given_up = _counter("bridge_target_given_up", "Deliveries given up after their retries.", labels)
    skipped = _counter("bridge_target_skipped", "Events skipped: too old, or within a cool-down.", labels)
    for target in targets:
        key = [target.name, target.kind]
        connected.add_metric(key, 1.0 if target.connected else 0.0)
        queued.add_metric(key, float(target.queued))
        delivered.add_metric(key, float(target.delivered))
        failures.add_metric(key, float(target.failures))
        given_up.add_metric(key, float(target.given_up))
        skipped.add_metric(key, float(target.skipped))
    yield from (connected, queued, delivered, failures, given_up, skipped)
