"""Offline cameras as events: a camera that has delivered no frame for its offline window
(`health.offline_s`, else CAMSTREAM_CAMERA_OFFLINE_S) gets an `offline` event, started at its last
frame, with the reason its process last gave (refused, timed out, wrong login) or "its process is
not running" when it wrote no status at all. The event ends once frames have flowed again for the
same window, dated when they came back: a camera flapping within the window is one event, not a
storm. A camera disabled, deleted or with health off has none (recorder.health: how it is stored
and sent)."""

from __future__ import annotations

import logging

import redis

from recorder.health import HealthWatch
from shared.cameras import Camera
from shared.db.events import EventHistory
from shared.detections import EventType
from shared.settings import Settings
from shared.status import CameraState, CameraStatus

log = logging.getLogger(__name__)

# A frame older than this is not "flowing": the status (with the last frame's time) is rewritten every
# second, and frames come a few times a second at the least.
STALE_S = 2.0
# A camera not seen yet (the recorder just started, the camera just added) has at least this long to
# deliver its first frame: starting processes connect within it, a short window notwithstanding.
FIRST_FRAME_S = 30.0


class OfflineWatch(HealthWatch):
    kind = EventType.OFFLINE

    def __init__(self, settings: Settings, history: EventHistory, client: redis.Redis) -> None:
        super().__init__(settings, history, client)
        self.first_watched: dict[int, float] = {}  # a camera never seen gets its window from here
        self.last_frame: dict[int, float] = {}
        self.flowing_since: dict[int, float] = {}

    async def judge(self, camera_id: int, camera: Camera | None, status: CameraStatus | None, now_s: float) -> None:
        flowing = self._note_frames(camera_id, status, now_s)
        event = self.open.get(camera_id)
        if camera is None or not camera.enabled or not camera.health.enabled:
            if event is not None:
                await self.end(event, now_s)
                log.info("camera=%d no longer watched: its offline event ends (%s)", camera_id, event.id)
            return
        window_s = camera.health.offline_after_s(self.settings.camera_offline_s)
        if event is None and not flowing:
            silent_s = self._silent_since(camera_id, window_s, now_s)
            if silent_s is not None:
                event = await self.start(camera_id, _reason(status), silent_s)
                log.warning("camera=%d offline: no frame for %.0f s: %s (%s)", camera_id, now_s - silent_s,
                            event.reason, event.id)  # fmt: skip
        elif event is not None and flowing and now_s - self.flowing_since[camera_id] >= window_s:
            back_s = self.flowing_since[camera_id]
            await self.end(event, back_s)
            log.info("camera=%d back online after %.0f s (%s)", camera_id, back_s - event.started_at_s, event.id)

    def _note_frames(self, camera_id: int, status: CameraStatus | None, now_s: float) -> bool:
        """Whether frames flow now; the last frame and since when they flow, kept."""
        self.first_watched.setdefault(camera_id, now_s)
        frame_s = status.last_frame_at_s if status is not None else None
        if frame_s is None or now_s - frame_s > STALE_S:
            self.flowing_since.pop(camera_id, None)
        else:
            self.flowing_since.setdefault(camera_id, frame_s)
        if frame_s is not None:
            self.last_frame[camera_id] = max(frame_s, self.last_frame.get(camera_id, 0.0))
        return camera_id in self.flowing_since

    def _silent_since(self, camera_id: int, window_s: float, now_s: float) -> float | None:
        """Since when the camera has sent nothing, once that is longer than its window (else None)."""
        last_s = self.last_frame.get(camera_id)
        if last_s is not None:
            return last_s if now_s - last_s >= window_s else None
        watched_s = self.first_watched[camera_id]  # never seen: the first frame may take longer
        return watched_s if now_s - watched_s >= max(window_s, FIRST_FRAME_S) else None


def _reason(status: CameraStatus | None) -> str:
    if status is None:
        return "its process is not running"
    if status.last_error:
        return status.last_error
    return "no frames" if status.state == CameraState.STREAMING else str(status.state)
