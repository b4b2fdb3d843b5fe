"""Recording gaps as events: a camera whose mode asks for footage, and whose writer says it paused
(disk full) or failed, gets a `recording_gap` event the moment the recorder sees its status say so,
with the writer's reason; the event ends when the camera records again, or no longer asks for
footage. A camera whose process is up and whose frames flow, but which writes no footage for its
`health.gap_s` (a writer stuck, a camera that sends no keyframe so no segment can be cut), gets one
too, from when footage stopped, ended by the next segment written (recorder.health: how it is
stored, sent and taken up again after a restart)."""

from __future__ import annotations

import logging

import redis

from recorder.health import HealthWatch
from shared.cameras import Camera
from shared.db.events import EventHistory
from shared.detections import Event, EventType
from shared.settings import Settings
from shared.status import CameraStatus

log = logging.getLogger(__name__)

NOT_RECORDING = ("paused", "failed")


class RecordingGaps(HealthWatch):
    kind = EventType.RECORDING_GAP

    def __init__(self, settings: Settings, history: EventHistory, client: redis.Redis) -> None:
        super().__init__(settings, history, client)
        self.written: dict[int, tuple[int, float]] = {}  # camera: (bytes of finished segments, since when so)
        self.stalled: set[int] = set()  # cameras whose open gap is footage not written (not the writer's state)

    async def judge(self, camera_id: int, camera: Camera | None, status: CameraStatus | None, now_s: float) -> None:
        wants = camera is not None and camera.enabled and camera.record.active
        stalled_s = self._stalled_since(camera_id, camera, status, now_s)
        gap = self.open.get(camera_id)
        if gap is None and wants and status is not None and status.recording in NOT_RECORDING:
            reason = status.recording_error or status.recording or "not recording"
            event = await self.start(camera_id, reason, now_s)
            log.warning("camera=%d recording gap started: %s (%s)", camera_id, reason, event.id)
        elif gap is None and wants and stalled_s is not None:
            writer = status.recording if status is not None else None
            reason = f"no footage written for {now_s - stalled_s:.0f} s (the writer is {writer})"
            event = await self.start(camera_id, reason, stalled_s)
            self.stalled.add(camera_id)
            log.warning("camera=%d recording gap started: %s (%s)", camera_id, reason, event.id)
        elif gap is not None and (not wants or self._recording_again(camera_id, gap, status)):
            await self.end(gap, now_s)
            self.stalled.discard(camera_id)
            log.info("camera=%d recording again after a %.1f s gap (%s)", camera_id, now_s - gap.started_at_s, gap.id)

    async def deleted_early(self, camera_id: int, start_s: float, end_s: float, reason: str) -> None:
        """Footage the recorder had to delete before its retention ran out (the disk under its floor, the
        size cap): a gap already over, sent as its start and its end (the event's own span is the footage's)."""
        event = await self.happened(camera_id, reason, start_s, end_s)
        log.warning("camera=%d %.0f s of footage deleted before its retention ran out (%s)", camera_id,
                    end_s - start_s, event.id)  # fmt: skip

    def _stalled_since(self, camera_id: int, camera: Camera | None, status: CameraStatus | None,
                       now_s: float) -> float | None:  # fmt: skip
        """Since when a streaming camera has written no footage, once that is longer than its gap_s (and two
        segments: footage is counted when a segment is finished); None otherwise."""
        if status is None or camera is None:
            self.written.pop(camera_id, None)
            return None
        written = status.recorded_bytes or 0
        if camera_id not in self.written or self.written[camera_id][0] != written or status.state != "streaming":
            self.written[camera_id] = (written, now_s)  # footage came, or the camera is not streaming (offline's)
            return None
        since_s = self.written[camera_id][1]
        window_s = max(camera.health.gap_s, 2 * self.settings.recordings_segment_s + 5)
        return since_s if camera.health.enabled and now_s - since_s >= window_s else None

    def _recording_again(self, camera_id: int, gap: Event, status: CameraStatus | None) -> bool:
        if status is None or status.recording != "recording":
            return False
        # A stall ends with footage written after it began; the writer's own pause when it records again.
        return camera_id not in self.stalled or self.written.get(camera_id, (0, 0.0))[1] > gap.started_at_s
