"""Keep frames at a target rate by dropping evenly spread frames of a faster source."""

from __future__ import annotations


class FramePacer:
    """Decides, from each frame's media time, whether to keep it.

    A frame is kept when it is no earlier than a quarter interval before the next slot;
    slots advance by one interval per kept frame, so 30 fps to 15 keeps every other frame
    and 25 to 15 keeps three of five. A jump in media time (a reconnect, a loop of a file,
    a stall) restarts the schedule instead of bursting to catch up.
    """

    def __init__(self, target_fps: float) -> None:
        self.interval_s = 1.0 / target_fps
        self._next_s: float | None = None
        self._last_s: float | None = None

    def reset(self) -> None:
        self._next_s = None
        self._last_s = None

    def keep(self, media_time_s: float) -> bool:
        last, self._last_s = self._last_s, media_time_s
        discontinuity = last is not None and not 0 <= media_time_s - last < 2.0
        if self._next_s is None or discontinuity or media_time_s > self._next_s + self.interval_s:
            self._next_s = media_time_s + self.interval_s
            return True
        if media_time_s >= self._next_s - self.interval_s / 4:
            self._next_s += self.interval_s
            return True
        return False
