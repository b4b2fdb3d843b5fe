"""Recording completeness: of the time a camera's mode asked for footage, how much is kept, and
where the gaps are, with their cause where camstream knows it (the camera offline, the disk full).

Pure interval arithmetic on seconds; the recordings index and the event history give the inputs
(gateway.routes.recordings). What a mode asks for:

- `continuous`: all of the window;
- `motion`: around every event (motion included), widened by the camera's pre_s/post_s;
- `events`: around the events of its `event_types`, widened the same way;
- `off` (or recording disabled): nothing;

and nothing before the camera was added.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.cameras import Camera
from shared.labels import matches

Interval = tuple[float, float]
# Shorter holes are segment joins and clock jitter, not missing footage.
MIN_GAP_S = 2.0


@dataclass(frozen=True)
class HealthSpan:
    """A health event of the camera, as a known cause of the gaps it overlaps."""

    start_s: float
    end_s: float | None  # None: still open
    cause: str  # "camera offline (connection refused)", "disk full"


@dataclass(frozen=True)
class Gap:
    start_s: float
    end_s: float
    cause: str | None  # None: not known (a process restarted, a writer stuck)


@dataclass(frozen=True)
class DayCoverage:
    day: str  # UTC date, YYYY-MM-DD
    required_s: float
    kept_s: float


@dataclass(frozen=True)
class Coverage:
    camera_id: int
    mode: str
    required_s: float
    kept_s: float
    days: list[DayCoverage]
    gaps: list[Gap]

    @property
    def fraction(self) -> float | None:
        """Kept of required; None when nothing was required."""
        return min(1.0, self.kept_s / self.required_s) if self.required_s > 0 else None


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, overlapping or touching intervals merged; empty ones dropped."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(wanted: Sequence[Interval], kept: Sequence[Interval]) -> list[Interval]:
    """The parts of `wanted` (merged) that no interval of `kept` (merged) covers."""
    missing: list[Interval] = []
    k = 0
    for start, end in wanted:
        cursor = start
        while k < len(kept) and kept[k][1] <= cursor:
            k += 1
        j = k
        while j < len(kept) and kept[j][0] < end:
            if kept[j][0] > cursor:
                missing.append((cursor, kept[j][0]))
            cursor = max(cursor, kept[j][1])
            j += 1
        if cursor < end:
            missing.append((cursor, end))
    return missing


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Where both (merged) lists cover."""
    return subtract(a, subtract(a, b))


def length(intervals: Iterable[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def clip(intervals: Iterable[Interval], start_s: float, end_s: float) -> list[Interval]:
    return [(max(a, start_s), min(b, end_s)) for a, b in intervals if b > start_s and a < end_s]


def required(camera: Camera, start_s: float, end_s: float, events: Iterable[tuple[str, str | None, Interval]]) -> (
    list[Interval]
):  # fmt: skip
    """What the camera's mode asked for in [start_s, end_s]; `events`: (type, label, its span), health ones left out."""
    record = camera.record
    if not camera.enabled or not record.active or start_s >= end_s:
        return []
    if record.mode == "continuous":
        return [(start_s, end_s)]
    spans = [(a - record.pre_s, b + record.post_s) for kind, label, (a, b) in events
             if record.mode == "motion" or matches(record.event_types, kind, label)]  # fmt: skip
    return clip(union(spans), start_s, end_s)


def coverage(
    camera: Camera, window: Interval, kept: Iterable[Interval], events: Iterable[tuple[str, str | None, Interval]],
    health: Sequence[HealthSpan], added_s: float | None = None,
) -> Coverage:  # fmt: skip
    """Of `window` (start, end): `added_s`, when the camera was added; nothing was asked of it before."""
    start_s, end_s = window
    wanted = required(camera, max(start_s, added_s or start_s), end_s, events)
    kept_where_wanted = intersect(wanted, union(clip(kept, start_s, end_s)))
    holes = [(a, b) for a, b in subtract(wanted, kept_where_wanted) if b - a >= MIN_GAP_S]
    days = [DayCoverage(day, length(clip(wanted, a, b)), length(clip(kept_where_wanted, a, b)))
            for day, a, b in utc_days(start_s, end_s)]  # fmt: skip
    return Coverage(camera.id, camera.record.mode if camera.record.active else "off", length(wanted),
                    length(kept_where_wanted), days, [Gap(a, b, _cause(a, b, health)) for a, b in holes])  # fmt: skip


def utc_days(start_s: float, end_s: float) -> list[tuple[str, float, float]]:
    """(YYYY-MM-DD, start, end) of each UTC day the window touches, clipped to it."""
    days = []
    day = datetime.datetime.fromtimestamp(start_s, datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.timestamp() < end_s:
        following = day + datetime.timedelta(days=1)
        days.append((day.date().isoformat(), max(start_s, day.timestamp()), min(end_s, following.timestamp())))
        day = following
    return days


def _cause(start_s: float, end_s: float, health: Sequence[HealthSpan]) -> str | None:
    """The cause of the health event that overlaps the gap most, if any does."""
    best, best_s = None, 0.0
    for span in health:
        overlap = min(end_s, span.end_s if span.end_s is not None else end_s) - max(start_s, span.start_s)
        if overlap > best_s:
            best, best_s = span.cause, overlap
    return best
