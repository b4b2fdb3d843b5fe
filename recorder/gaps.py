"""Recording gaps as events: a camera whose mode asks for footage, and whose writer says it paused
(disk full) or failed, gets a `recording_gap` event the moment the recorder sees its status say so,
with the writer's reason; the event ends when the camera records again, or no longer asks for
footage (recorder.health: how it is stored, sent and taken up again after a restart)."""

from __future__ import annotations

import logging

from recorder.health import HealthWatch
from shared.cameras import Camera
from shared.detections import EventType
from shared.status import CameraStatus

log = logging.getLogger(__name__)

NOT_RECORDING = ("paused", "failed")


class RecordingGaps(HealthWatch):
    kind = EventType.RECORDING_GAP

    async def judge(self, camera_id: int, camera: Camera | None, status: CameraStatus | None, now_s: float) -> None:
        wants = camera is not None and camera.enabled and camera.record.active
        gap = self.open.get(camera_id)
        if gap is None and wants and status is not None and status.recording in NOT_RECORDING:
            reason = status.recording_error or status.recording or "not recording"
            event = await self.start(camera_id, reason, now_s)
            log.warning("camera=%d recording gap started: %s (%s)", camera_id, reason, event.id)
        elif gap is not None and (not wants or (status is not None and status.recording == "recording")):
            await self.end(gap, now_s)
            log.info("camera=%d recording again after a %.1f s gap (%s)", camera_id, now_s - gap.started_at_s, gap.id)
