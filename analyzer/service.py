"""An analyzer worker: holds leases on its share of the cameras and analyses each at its rate.

For each camera it holds, at each analysis slot, it reads the newest frame (never a
backlog), decodes the JPEG at about 640 px wide, runs the camera's analysis, and publishes
the frame's detections and any events. Bad messages and JPEGs are counted and skipped.

Events are stored in the database by a thread of the worker's own (analyzer.history) and
published on Redis (analyzer.publisher).

Redis may go away (killed, restarted empty, frozen): the worker rides it out. It keeps
trying every tick; once it has not renewed its leases for their TTL it gives its cameras
up (their open events end, and the end messages wait in the publisher's outbox), and it
takes its share again when Redis answers.

A worker killed outright (SIGKILL, a power cut) cannot end its events: the worker that takes
its camera next ends them (analyzer.history finds them), at the last moment they were known.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np
import redis

from analyzer.detectors.build import build_detector, describe
from analyzer.detectors.detection import Detector
from analyzer.detectors.faces import FaceDetector
from analyzer.detectors.frames import decode_for_analysis
from analyzer.detectors.model_fetch import FetchError
from analyzer.detectors.recognition import Recognizer
from analyzer.detectors.tamper import TamperDetector
from analyzer.detectors.tf_graph import GraphError
from analyzer.history import HistoryWriter
from analyzer.leases import LeaseKeeper, Leases
from analyzer.pipeline import CameraAnalysis, EventOut, FrameResult
from analyzer.publisher import Publisher
from analyzer.tamper_views import TamperViews
from analyzer.watchdog import DetectorHung, Watchdog
from analyzer.worker_id import new_worker_id
from shared import keys
from shared.cameras import Camera
from shared.detections import EventPhase, FrameDetections
from shared.messages import FrameMessage, MessageError
from shared.redis_client import sync_client
from shared.settings import Settings
from shared.status import INFERENCE_BUCKETS_MS, AnalysisCounters, WorkerStatus, ZoneOccupancy

log = logging.getLogger(__name__)

TICK_S = 1.0
LEFT_OPEN_GRACE_S = 10.0  # plus the lease TTL: see _start
EXIT_RESTART = 3
TIMING_WEIGHT = 0.1  # of the newest sample in each stage's moving average


@dataclass
class _Camera:
    camera: Camera
    analysis: CameraAnalysis
    counters: AnalysisCounters
    interval_s: float
    next_due: float
    taken_at_s: float  # when this worker took the camera
    last_entry: bytes | None = None
    occupancy: dict[str, int] | None = None  # what was last written of its zones' occupancy
    occupancy_at: float = 0.0  # when (monotonic)
    # Our own events whose first frame was captured before we took the camera (a frame in flight):
    # never taken for events a killed worker left open.
    early_ids: set[str] = field(default_factory=set)


class AnalyzerService:
    def __init__(self, settings: Settings, cameras: list[Camera]) -> None:
        self.settings = settings
        self.stop = threading.Event()  # run's, once it runs
        self.worker_id = new_worker_id()
        self.cameras = {c.id: c for c in cameras if c.enabled and c.analysis.enabled}
        self.client = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s)
        self.leases = Leases(self.client, self.worker_id, sorted(self.cameras), settings.analyzer_lease_ttl_s)
        self.keeper = LeaseKeeper(self.leases, sync_client(settings.redis_url_or_local(), settings.redis_timeout_s))
        self.history = HistoryWriter(settings).start()
        self.publisher = Publisher(self.client, settings, self.history)
        self.watchdog = Watchdog(settings.analyzer_detector_timeout_s)
        self.tamper_views = TamperViews(self.client)
        self.detector_problem = ""  # why objects are not detected, for the status
        self.persons = (
            self._person_detector(settings) if any(c.analysis.person for c in self.cameras.values()) else None
        )
        self.faces = FaceDetector() if any(c.analysis.face for c in self.cameras.values()) else None
        self.recognizer = Recognizer()  # its model loads when someone is first enrolled
        self.active: dict[int, _Camera] = {}
        self.exit_code = 0
        self._redis_ok = True
        self._renewed_at = time.monotonic()  # last time the leases were known to be ours
        self._changes: queue.SimpleQueue[list[Camera]] = queue.SimpleQueue()

    def cameras_changed(self, cameras: list[Camera]) -> None:
        """The database's cameras now (any thread): applied between two analyses."""
        self._changes.put(cameras)

    def faces_changed(self, known: dict[str, np.ndarray]) -> None:
        """The known people now (any thread): the next face matched uses them (one assignment)."""
        self.recognizer.known = known
        log.info("worker %s: %d known people to recognise", self.worker_id, len(known))

    def _apply(self, cameras: list[Camera]) -> None:
        """New cameras join the share (the next tick's assignment); a deleted or changed one is given up
        (its events end) and, if still ours, taken again with its new settings."""
        wanted = {c.id: c for c in cameras if c.enabled and c.analysis.enabled}
        if wanted == self.cameras:
            return
        changed = [c for c, state in self.active.items() if wanted.get(c) != state.camera]
        for camera_id in changed:
            self._drop(camera_id, "camera deleted" if camera_id not in wanted else "camera changed")
        if self.persons is None and any(c.analysis.person for c in wanted.values()):
            self.persons = self._person_detector(self.settings)
        if self.faces is None and any(c.analysis.face for c in wanted.values()):
            self.faces = FaceDetector()
        self.cameras = wanted
        self.leases.cameras = sorted(wanted)  # the next tick releases a deleted camera's lease
        for camera_id in changed:
            if camera_id in wanted:  # still ours (its lease is held): analysed again, as it is now
                self._start(camera_id)
        log.info("worker %s: cameras changed; %d to share", self.worker_id, len(wanted))

    def _person_detector(self, settings: Settings) -> Detector | None:
        """The detector the settings ask for; None (motion and faces only, said in the status and the
        log) when its files are missing or broken, so a bad install never loops on restarts."""
        try:
            detector = build_detector(settings)
        except (FetchError, GraphError, OSError) as e:
            self.detector_problem = f"no object detection: {e}"
            log.error("worker %s: %s; analysing motion and faces only", self.worker_id, self.detector_problem)
            return None
        log.info("person detector: %s on %s", describe(detector), detector.provider)
        return detector

    def run(self, stop: threading.Event) -> int:
        self.stop = stop
        log.info("analyzer worker %s starting; %d camera(s) to share", self.worker_id, len(self.cameras))
        next_tick = 0.0
        self.keeper.start()
        try:
            while not self.stop.is_set():
                while not self._changes.empty():
                    self._apply(self._changes.get())
                now = time.monotonic()
                if now >= next_tick:
                    self._with_redis(self._tick)
                    next_tick = now + TICK_S
                self._give_up_lost_leases()
                # The most overdue first, and the tick on time even when every camera is behind.
                for state in sorted((s for s in self.active.values() if s.next_due <= now), key=lambda s: s.next_due):
                    if time.monotonic() >= next_tick:
                        break
                    self._with_redis(self._analyse, state)
                if self.watchdog.needs_restart:
                    log.error("too many hung detector calls: exiting to be restarted")
                    self.exit_code = EXIT_RESTART
                    break
                wake = min([next_tick, *(s.next_due for s in self.active.values())])
                self.stop.wait(min(0.2, max(0.0, wake - time.monotonic())))
        finally:
            self._shutdown()
        return self.exit_code

    def _with_redis(self, step: Callable[..., None], *args: object) -> None:
        """Run one step; a Redis error ends the step, never the worker."""
        try:
            step(*args)
        except redis.RedisError as e:
            if self._redis_ok:  # log the change, not every failed call
                log.warning("worker %s cannot reach Redis; carrying on: %s", self.worker_id, e)
            self._redis_ok = False
            self._give_up_lapsed_cameras()
            return
        if not self._redis_ok:
            log.info("worker %s reaches Redis again", self.worker_id)
        self._redis_ok = True

    def _give_up_lost_leases(self) -> None:
        for camera_id in self.keeper.take_lost():
            self._with_redis(self._lost_lease, camera_id)

    def _lost_lease(self, camera_id: int) -> None:
        """The keeper found the lease not ours: checked once more (the loop may have just taken it
        again), then the camera is given up: another worker may own it now."""
        if camera_id in self.leases.held and not self.leases.renew(camera_id):
            self.leases.held.discard(camera_id)
            self._drop(camera_id, "its lease lapsed")

    def _give_up_lapsed_cameras(self) -> None:
        """Leases not renewed for their TTL have lapsed: another worker may own those cameras now."""
        renewed_at = max(self._renewed_at, self.keeper.renewed_at)
        if self.active and time.monotonic() - renewed_at > self.leases.ttl_s:
            for camera_id in list(self.active):
                self._drop(camera_id, "leases lapsed while Redis was unreachable")
            self.leases.held.clear()

    def _tick(self) -> None:
        self.publisher.flush()
        self._end_left_open()
        gained, lost = self.leases.tick()
        self._renewed_at = time.monotonic()
        for camera_id in lost:
            self._drop(camera_id, "reassigned")
        for camera_id in gained:
            self._start(camera_id)
        self.publisher.events(self.tamper_views.tick({c: s.analysis for c, s in self.active.items()}))
        self._write_status()

    def _start(self, camera_id: int) -> None:
        camera = self.cameras[camera_id]
        watched = camera.health.enabled and camera.health.tamper
        tamper = TamperDetector(hold_s=camera.health.tamper_s) if watched else None
        analysis = CameraAnalysis(
            camera_id, camera.analysis, self.persons, self.faces, self.settings.analyzer_idle_detect_s, self.watchdog,
            full_frame_s=self.settings.analyzer_full_frame_s, recognizer=self.recognizer, tamper=tamper,
        )  # fmt: skip
        if tamper is not None:
            try:
                self.tamper_views.take(camera_id, tamper)
            except redis.RedisError as e:
                log.warning("camera=%d tamper reference not read (learning the view again): %s", camera_id, e)
        interval = 1.0 / camera.analysis.fps
        taken_at_s = time.time()
        self.active[camera_id] = _Camera(camera, analysis, AnalysisCounters(), interval, time.monotonic(), taken_at_s)
        # A worker that stops properly ends its events and stores the ends at once; after this
        # long, what is still open was its when it was killed.
        self.history.sweep_later(camera_id, taken_at_s, LEFT_OPEN_GRACE_S + self.leases.ttl_s)
        log.info("worker %s now analyses camera=%d", self.worker_id, camera_id)

    def _end_left_open(self) -> None:
        """End the events a killed worker left open on the cameras now ours (once: the end is stored)."""
        found = [
            e for e in self.history.left_open()
            if e.camera_id in self.active and e.id not in self.active[e.camera_id].early_ids
        ]  # fmt: skip
        if found:
            ended = [replace(e, phase=EventPhase.END, ended_at_s=max(e.started_at_s, e.published_at_s)) for e in found]
            log.info("worker %s ends %d event(s) left open by a worker that stopped without ending them: %s",
                     self.worker_id, len(ended), ", ".join(e.id for e in ended))  # fmt: skip
            self.publisher.events([EventOut(e, None) for e in ended])

    def _drop(self, camera_id: int, why: str) -> None:
        """Give a camera up: its open events end (the messages wait in the outbox if Redis is away)."""
        state = self.active.pop(camera_id, None)
        if state is None:
            return
        log.info("worker %s gives up camera=%d (%s)", self.worker_id, camera_id, why)
        with contextlib.suppress(redis.RedisError):  # if not kept, the next worker learns the view again
            self.tamper_views.save(camera_id, state.analysis)  # the next worker judges against the same view
        self.tamper_views.forget(camera_id)
        self.publisher.events(state.analysis.close(time.time()))

    def _analyse(self, state: _Camera) -> None:
        camera_id = state.camera.id
        now = time.monotonic()
        late = now - state.next_due
        if late > state.interval_s:  # behind: skip to the newest frame, count the slots missed
            state.counters.frames_skipped += int(late / state.interval_s)
        state.next_due = max(state.next_due + state.interval_s, now)
        entries = self.client.xrevrange(keys.frame_stream(camera_id), count=1)
        if not entries or entries[0][0] == state.last_entry:
            state.next_due = now + min(state.interval_s, 0.05)  # no new frame yet: look again soon
            return
        # The client returns bytes: it is not set to decode responses.
        entry_id, fields = cast(tuple[bytes, dict[bytes, bytes]], entries[0])
        state.last_entry = entry_id
        decoded = self._decode(state, fields)
        if decoded is None:
            return
        message, image = decoded
        try:
            result = state.analysis.analyse(
                image, image.shape[1] / message.width, message.captured_at_s, message.jpeg, time.time()
            )
        except DetectorHung:
            state.counters.detector_timeouts += 1
            return
        if camera_id not in self.leases.held:  # lost meanwhile (the keeper's word, or Redis lost)
            return
        # The keeper silent for half the TTL (the whole process stalled): ask before speaking for the camera.
        if time.monotonic() - self.keeper.renewed_at > self.leases.ttl_s / 2 and not self.leases.renew(camera_id):
            self.leases.held.discard(camera_id)
            self._drop(camera_id, "its lease lapsed")
            return
        self._publish(state, message, result)

    def _decode(self, state: _Camera, fields: dict[bytes, bytes]) -> tuple[FrameMessage, np.ndarray] | None:
        try:
            message = FrameMessage.from_entry(fields)
            if message.camera_id != state.camera.id:
                raise MessageError(f"frame of camera {message.camera_id} on the stream of camera {state.camera.id}")
            image = decode_for_analysis(message.jpeg, message.width)
        except (MessageError, ValueError) as e:
            state.counters.frames_bad += 1
            log.warning("camera=%d bad frame skipped (%d so far): %s", state.camera.id, state.counters.frames_bad, e)
            return None
        return message, image

    def _publish(self, state: _Camera, message: FrameMessage, result: FrameResult) -> None:
        now = time.time()
        counters = state.counters
        counters.frames_analysed += 1
        counters.lag_ms = round((now - message.captured_at_s) * 1000.0, 1)
        _record_timings(counters, result.timings_ms)
        state.early_ids.update(o.event.id for o in result.events if o.event.started_at_s < state.taken_at_s)
        self.publisher.events(result.events)  # first: a Redis error below must not lose them
        self._write_occupancy(state, result.occupancy)
        self.publisher.detections(FrameDetections(
            state.camera.id, message.seq, message.captured_at_s, now, message.width, message.height, self.worker_id,
            result.motion, result.objects,
        ))  # fmt: skip

    def _write_occupancy(self, state: _Camera, occupancy: dict[str, int] | None) -> None:
        """The zones' occupancy on Redis when it changes, and every second (its TTL is the lease's)."""
        now = time.monotonic()
        if occupancy is None or (occupancy == state.occupancy and now - state.occupancy_at < 1.0):
            return
        record = ZoneOccupancy(state.camera.id, occupancy, time.time())
        self.client.set(keys.zone_occupancy(state.camera.id), record.encode(), px=self.leases.ttl_ms)
        state.occupancy, state.occupancy_at = dict(occupancy), now

    def _write_status(self) -> None:
        status = WorkerStatus(
            worker_id=self.worker_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            provider=self.persons.provider if self.persons else (self.detector_problem or "none"),
            cameras={str(cid): s.counters for cid, s in sorted(self.active.items())},
            live_workers=self.leases.live_workers,
            updated_at_s=time.time(),
        )
        self.client.set(keys.analyzer_status(self.worker_id), status.encode(), px=self.leases.ttl_ms)

    def _shutdown(self) -> None:
        self.keeper.stop()
        for camera_id in list(self.active):
            self._drop(camera_id, "stopping")
        try:
            self.leases.release_all()
            self.client.delete(keys.analyzer_status(self.worker_id))
        except redis.RedisError:
            pass
        if self.publisher.outbox:
            log.warning("stopping with %d event message(s) Redis never took", len(self.publisher.outbox))
        self.history.close(self.settings.database_timeout_s)
        self.watchdog.close()
        self.client.close()
        log.info("analyzer worker %s stopped", self.worker_id)


def _record_timings(counters: AnalysisCounters, timings_ms: dict[str, float]) -> None:
    """Each stage's moving average, and its histogram (cumulative counts per bucket, and the sum)."""
    for stage, ms in timings_ms.items():
        before = counters.inference_ms.get(stage)
        average = ms if before is None else (1 - TIMING_WEIGHT) * before + TIMING_WEIGHT * ms
        counters.inference_ms[stage] = round(average, 2)
        counts = counters.inference_counts.setdefault(stage, [0] * (len(INFERENCE_BUCKETS_MS) + 1))
        for i, bound in enumerate([*INFERENCE_BUCKETS_MS, float("inf")]):
            counts[i] += ms <= bound
        counters.inference_sum_ms[stage] = round(counters.inference_sum_ms.get(stage, 0.0) + ms, 1)
