"""A camera's rules on its tracks: lines crossed, zones entered, left and lingered in (the camera's
`analysis.lines` and `analysis.zones`; docs/rules.md). Pure: tracks and a time in, events out.

A track is where its foot point is (the middle of its box's bottom edge), in fractions of the frame.
- A line is crossed when a track's foot point, clear of the line by MARGIN on one side, is next seen
  clear of it on the other and the step between the two passes through the line (walking around
  its end does not count; standing on it, wavering, counts once). Walking the line from its first
  point to its last, `in` is from left to right (the arrow the zone editor draws).
- A zone is entered when a track's foot point is first inside it, and left once it has been outside
  for LEAVE_S, or the track ended; a track inside longer than the zone's `loiter_s` is `loitering`:
  one event from then until it leaves.
`line_crossed`, `zone_entered` and `zone_left` happen at an instant: each is sent as its start and
its end at once (the start carries the snapshot); `loitering` lasts. Every event names its zone or
line and its track.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field, replace

from analyzer.tracking import Track
from shared.detections import Box, Event, EventPhase, EventType
from shared.zones import Line, Zone

MARGIN = 0.01  # of the frame: a foot point this near a line is on it, not past it (a box's jitter)
LEAVE_S = 1.0  # outside a zone this long is gone from it (a foot point wavering at its edge)
Point = tuple[float, float]


@dataclass
class Visit:
    """A track in a zone."""

    entered_s: float
    outside_since_s: float | None = None
    loitering: Event | None = None


@dataclass
class RuleEvent:
    event: Event
    snapshot: bytes | None


@dataclass
class Rules:
    camera_id: int
    zones: list[Zone]
    lines: list[Line]
    _sides: dict[tuple[int, str], tuple[int, Point]] = field(default_factory=dict)  # (track, line): clear side
    _visits: dict[tuple[int, str], Visit] = field(default_factory=dict)  # (track, zone)

    def occupancy(self) -> dict[str, int]:
        """How many tracks are in each zone now."""
        counts = {zone.name: 0 for zone in self.zones}
        for _track, name in self._visits:
            counts[name] += 1
        return counts

    def update(self, seen: list[Track], ended: list[Track], size: tuple[float, float], t_s: float, jpeg: bytes | None,
               now_s: float) -> list[RuleEvent]:  # fmt: skip
        """`seen`: the confirmed tracks a detection of this frame updated; `ended`: the tracks that ended.
        `size`: the frame's width and height in the pixels of the tracks' boxes."""
        out: list[RuleEvent] = []
        for track in seen:
            point = _foot(track.box, size)
            out += self._crossings(track, point, t_s, jpeg, now_s)
            out += self._zones(track, point, t_s, jpeg, now_s)
        for track in ended:
            out += self.forget(track, t_s, now_s)
        return out

    def forget(self, track: Track, t_s: float, now_s: float) -> list[RuleEvent]:
        """The track is gone: it leaves every zone it was in."""
        out: list[RuleEvent] = []
        for key in [k for k in self._visits if k[0] == track.id]:
            out += self._leave(track, key[1], self._visits.pop(key), max(t_s, track.last_s), now_s)
        for key in [k for k in self._sides if k[0] == track.id]:
            del self._sides[key]
        return out

    def close(self, tracks: list[Track], now_s: float) -> list[RuleEvent]:
        """The camera is going away: every track leaves its zones."""
        out: list[RuleEvent] = []
        for track in tracks:
            out += self.forget(track, now_s, now_s)
        return out

    def _crossings(self, track: Track, point: Point, t_s: float, jpeg: bytes | None, now_s: float) -> list[RuleEvent]:
        out: list[RuleEvent] = []
        for line in self.lines:
            if not line.looks_at(track.label, track.identity):
                continue
            side = _side(line, point)
            key = (track.id, line.name)
            if side is None:  # beside none of its segments: past its ends, where walking round it crosses nothing
                self._sides.pop(key, None)
                continue
            if side == 0:
                continue  # on the line: undecided yet
            before = self._sides.get(key)
            self._sides[key] = (side, point)
            if before is None or before[0] == side or not _passes(line, before[1], point):
                continue
            direction = "in" if before[0] < 0 else "out"  # left (negative) to right (positive) is in
            event = self._event(EventType.LINE_CROSSED, track, t_s, now_s, line=line.name, direction=direction)
            out += _instant(event, jpeg)
        return out

    def _zones(self, track: Track, point: Point, t_s: float, jpeg: bytes | None, now_s: float) -> list[RuleEvent]:
        out: list[RuleEvent] = []
        for zone in self.zones:
            if not zone.looks_at(track.label, track.identity):
                continue
            key = (track.id, zone.name)
            visit = self._visits.get(key)
            if _inside(zone.points, point):
                if visit is None:
                    self._visits[key] = visit = Visit(t_s)
                    out += _instant(self._event(EventType.ZONE_ENTERED, track, t_s, now_s, zone=zone.name), jpeg)
                visit.outside_since_s = None
                if zone.loiter_s is not None and visit.loitering is None and t_s - visit.entered_s >= zone.loiter_s:
                    loitering = self._event(EventType.LOITERING, track, visit.entered_s, now_s, zone=zone.name)
                    visit.loitering = replace(loitering, snapshot=jpeg is not None)
                    out.append(RuleEvent(visit.loitering, jpeg))
            elif visit is not None:
                if visit.outside_since_s is None:
                    visit.outside_since_s = t_s
                if t_s - visit.outside_since_s >= LEAVE_S:
                    out += self._leave(track, zone.name, self._visits.pop(key), visit.outside_since_s, now_s)
        return out

    def _leave(self, track: Track, zone: str, visit: Visit, at_s: float, now_s: float) -> list[RuleEvent]:
        out = _instant(self._event(EventType.ZONE_LEFT, track, at_s, now_s, zone=zone), None)
        if visit.loitering is not None:
            started = visit.loitering
            ended = Event(started.id, started.camera_id, started.type, EventPhase.END, started.started_at_s,
                          max(at_s, started.started_at_s), None, started.box, started.frames, started.snapshot, now_s,
                          label=started.label, zone=zone, track_id=track.id)  # fmt: skip
            out.append(RuleEvent(ended, None))
        return out

    def _event(self, kind: EventType, track: Track, t_s: float, now_s: float, **where: str) -> Event:
        """`where`: the zone, or the line and the direction."""
        return Event(f"{self.camera_id}-{uuid.uuid4().hex[:16]}", self.camera_id, kind, EventPhase.START, t_s, None,
                     round(track.best_score, 3), Box(*track.box), track.frames, True, now_s, label=track.label,
                     zone=where.get("zone"), line=where.get("line"), direction=where.get("direction"),
                     track_id=track.id)  # fmt: skip


def _instant(event: Event, jpeg: bytes | None) -> list[RuleEvent]:
    """An event of an instant: its start (with the picture) and its end, at once."""
    start = replace(event, snapshot=jpeg is not None)
    end = replace(start, phase=EventPhase.END, ended_at_s=start.started_at_s)
    return [RuleEvent(start, jpeg), RuleEvent(end, None)]


def _foot(box: tuple[int, int, int, int], size: tuple[float, float]) -> Point:
    x, y, w, h = box
    return ((x + w / 2) / max(size[0], 1.0), (y + h) / max(size[1], 1.0))


def _cross(a: list[float], b: list[float], p: Point) -> float:
    """Positive when p is right of a->b as seen on the picture (y down), negative when left."""
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def _side(line: Line, point: Point) -> int | None:
    """-1 left, 1 right of the nearest segment the point is beside; 0 on it; None: beside none of them."""
    best: tuple[float, int] | None = None
    for a, b in itertools.pairwise(line.points):
        dx, dy = b[0] - a[0], b[1] - a[1]
        length2 = dx * dx + dy * dy
        along = ((point[0] - a[0]) * dx + (point[1] - a[1]) * dy) / length2
        if not -0.05 <= along <= 1.05:
            continue
        distance = _cross(a, b, point) / length2**0.5
        if best is None or abs(distance) < abs(best[0]):
            best = (distance, 1 if distance > 0 else -1)
    if best is None:
        return None
    return 0 if abs(best[0]) < MARGIN else best[1]


def _passes(line: Line, p: Point, q: Point) -> bool:
    """Whether the step p->q meets one of the line's segments."""
    for a, b in itertools.pairwise(line.points):
        d1, d2 = _cross(a, b, p), _cross(a, b, q)
        d3 = _cross([p[0], p[1]], [q[0], q[1]], (a[0], a[1]))
        d4 = _cross([p[0], p[1]], [q[0], q[1]], (b[0], b[1]))
        if d1 * d2 <= 0 and d3 * d4 <= 0:
            return True
    return False


def _inside(polygon: list[list[float]], point: Point) -> bool:
    """Ray casting: an odd number of edges to the point's right."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
