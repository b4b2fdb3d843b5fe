"""The tamper detector's Redis side for a worker: each camera's reference view kept in Redis
(keys.tamper_reference) so that the worker that takes the camera next judges against the same
view, and the owner's "this is the new normal" (keys.tamper_relearn, set by the gateway) applied
once by whichever worker analyses the camera (analyzer.detectors.tamper; docs/health.md)."""

from __future__ import annotations

import logging
import time

import redis

from analyzer.detectors.tamper import TamperDetector, from_record, to_record
from analyzer.pipeline import CameraAnalysis, EventOut
from shared import keys
from shared.messages import MessageError
from shared.tamper_reference import TamperReference

log = logging.getLogger(__name__)

SAVE_EVERY_S = 60.0


class TamperViews:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.relearned_at: dict[int, float] = {}  # camera: the owner's last "new normal" applied
        self._saved_at: dict[int, float] = {}

    def take(self, camera_id: int, detector: TamperDetector) -> None:
        """A camera this worker now analyses: the view it had, if Redis kept it. Raises redis.RedisError."""
        raw = self.client.get(keys.tamper_reference(camera_id))
        if raw is None:
            self.relearned_at[camera_id] = self._relearn_requested(camera_id)
            return
        try:
            record = TamperReference.decode(raw)  # type: ignore[arg-type]
        except MessageError as e:
            log.warning("camera=%d tamper reference unreadable, learning the view again: %s", camera_id, e)
            self.relearned_at[camera_id] = self._relearn_requested(camera_id)
            return
        detector.reference = from_record(record)
        self.relearned_at[camera_id] = record.relearned_at_s
        self._saved_at[camera_id] = time.monotonic()

    def tick(self, analyses: dict[int, CameraAnalysis]) -> list[EventOut]:
        """Apply new "new normal" requests; keep each view in Redis every SAVE_EVERY_S. Raises redis.RedisError."""
        watched = {c: a for c, a in analyses.items() if a.tamper is not None}
        if not watched:
            return []
        ids = sorted(watched)
        requested = self.client.mget([keys.tamper_relearn(c) for c in ids])
        ended: list[EventOut] = []
        for camera_id, raw in zip(ids, requested, strict=True):
            at_s = _seconds(raw)
            if at_s > self.relearned_at.get(camera_id, 0.0):
                self.relearned_at[camera_id] = at_s
                log.info("camera=%d the owner set a new normal view: learning it", camera_id)
                ended += watched[camera_id].rereference(time.time())
                self.client.delete(keys.tamper_reference(camera_id))
        now = time.monotonic()
        for camera_id in ids:
            if now - self._saved_at.get(camera_id, 0.0) >= SAVE_EVERY_S:
                self.save(camera_id, watched[camera_id])
        return ended

    def save(self, camera_id: int, analysis: CameraAnalysis) -> None:
        """Raises redis.RedisError."""
        detector = analysis.tamper
        if detector is None or detector.reference is None:
            return  # nothing learnt yet (the reference stands still while a tamper is suspected)
        record = to_record(detector.reference, self.relearned_at.get(camera_id, 0.0))
        self.client.set(keys.tamper_reference(camera_id), record.encode())
        self._saved_at[camera_id] = time.monotonic()

    def forget(self, camera_id: int) -> None:
        self.relearned_at.pop(camera_id, None)
        self._saved_at.pop(camera_id, None)

    def _relearn_requested(self, camera_id: int) -> float:
        return _seconds(self.client.get(keys.tamper_relearn(camera_id)))


def _seconds(raw: object) -> float:
    try:
        return float(raw) if isinstance(raw, bytes | str) else 0.0
    except ValueError:
        return 0.0
