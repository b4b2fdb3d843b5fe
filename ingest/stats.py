"""Counters of one camera process, written by its source loop and its publisher thread."""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.status import CameraState, CameraStatus

if TYPE_CHECKING:
    from ingest.segments import SegmentWriter

FPS_WINDOW_S = 5.0


@dataclass
class CameraStats:
    camera_id: int
    source: str  # masked
    state: CameraState = CameraState.STARTING
    frames_sent: int = 0
    units_relayed: int = 0  # the main stream's access units (RTSP): what viewers and the recording get
    frames_dropped: int = 0
    frames_failed: int = 0
    reconnects: int = 0
    last_error: str | None = None
    last_frame_at_s: float | None = None
    width: int | None = None
    height: int | None = None
    host: str | None = None  # the ingest host running the camera
    recording: SegmentWriter | None = None
    _kept_at: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    _sent_at: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    _delays_ms: deque[float] = field(default_factory=lambda: deque(maxlen=300))

    def frame_sent(self, received_at_s: float) -> None:
        now = time.time()
        self.frames_sent += 1
        self.last_frame_at_s = now
        self._sent_at.append(time.monotonic())
        self._delays_ms.append((now - received_at_s) * 1000.0)

    def frame_kept(self) -> None:
        """A frame at the camera's target rate (recorded where ingest encodes the recording)."""
        self._kept_at.append(time.monotonic())

    def fps(self) -> float:
        """Frames a second at the camera's rate, whatever share of them is encoded to JPEG."""
        return _rate(self._kept_at)

    def frame_fps(self) -> float:
        """Frames written to the frame stream a second."""
        return _rate(self._sent_at)

    def snapshot(self) -> CameraStatus:
        delays = list(self._delays_ms)
        p50 = p95 = None
        if len(delays) >= 2:
            cuts = statistics.quantiles(delays, n=20)
            p50, p95 = round(statistics.median(delays), 2), round(cuts[18], 2)
        return CameraStatus(
            camera_id=self.camera_id,
            state=self.state,
            fps=self.fps(),
            frame_fps=self.frame_fps(),
            units_relayed=self.units_relayed,
            frames_sent=self.frames_sent,
            frames_dropped=self.frames_dropped,
            frames_failed=self.frames_failed,
            reconnects=self.reconnects,
            last_error=self.last_error,
            last_frame_at_s=self.last_frame_at_s,
            updated_at_s=time.time(),
            source=self.source,
            width=self.width,
            height=self.height,
            delay_ms_p50=p50,
            delay_ms_p95=p95,
            pid=os.getpid(),
            host=self.host,
            recording=self.recording.state if self.recording is not None else "off",
            recording_error=self.recording.error if self.recording is not None else None,
            recorded_bytes=self.recording.bytes_written if self.recording is not None else None,
        )


def _rate(times: deque[float]) -> float:
    now = time.monotonic()
    recent = [t for t in list(times) if now - t <= FPS_WINDOW_S]
    if len(recent) < 2:
        return 0.0
    # Rate over the window, not over first..last: a stalled source reads as slowing down.
    return round((len(recent) - 1) / max(now - recent[0], recent[-1] - recent[0], 1e-6), 2)
