"""A camera's recording completeness from the recordings index and its events (shared.coverage
does the arithmetic): for `GET /api/recordings/coverage` and the metrics."""

from __future__ import annotations

from shared.cameras import Camera
from shared.coverage import Coverage, HealthSpan, coverage
from shared.db.recordings import RecordingIndex
from shared.detections import HEALTH_TYPE_NAMES, EventType
from shared.settings import Settings

MERGE_GAP_S = 1.0  # segments closer than this make one range
MAX_RANGES = 10_000  # in one answer (a camera that reconnects every minute for a week makes 10,000)
INDEX_LAG_S = 5.0  # a finished segment is in the index within a recorder pass or two


def judged_until(settings: Settings, now_s: float) -> float:
    """The latest time coverage can judge: the segment being written is not indexed yet."""
    return now_s - settings.recordings_segment_s - INDEX_LAG_S


async def camera_coverage(
    recordings: RecordingIndex, camera: Camera, since_s: float, until_s: float, added_s: float | None = None
) -> Coverage:  # fmt: skip
    found = await recordings.ranges(camera.id, int(since_s * 1000), int(until_s * 1000), int(MERGE_GAP_S * 1000),
                                    MAX_RANGES)  # fmt: skip
    spans = await recordings.spans(camera.id, since_s, until_s)
    health = [HealthSpan(s.start_s, s.end_s, _cause(s.type, s.reason)) for s in spans if s.type in HEALTH_TYPE_NAMES]
    events = [(s.type, s.label, (s.start_s, s.end_s if s.end_s is not None else until_s)) for s in spans
              if s.type not in HEALTH_TYPE_NAMES]  # fmt: skip
    kept = [(a / 1000, b / 1000) for _c, a, b, _n in found]
    return coverage(camera, (since_s, until_s), kept, events, health, added_s)


def _cause(kind: str, reason: str | None) -> str:
    if kind == EventType.OFFLINE:
        return f"camera offline ({reason})" if reason else "camera offline"
    return reason or "recording stopped"
