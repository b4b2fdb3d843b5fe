"""The rules on tracks (analyzer.rules): a line crossed once each way, never by wavering on it or
walking round its end; a zone entered, left, lingered in once; only the object types asked for.
And the camera file's rules refuse bad lines and zones with the reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from analyzer.rules import Rules
from analyzer.tracking import Track
from shared.analysis import AnalysisConfig
from shared.detections import EventPhase, EventType
from shared.zones import Line, Zone

SIZE = (1000.0, 1000.0)
# A vertical line down the middle, drawn bottom to top: walking up it, the picture's left half is on
# its left, so crossing from the left half to the right half is `in`.
DOOR = Line(name="door", points=[[0.5, 0.8], [0.5, 0.2]])
HALL = Zone(name="hall", points=[[0.6, 0.0], [1.0, 0.0], [1.0, 1.0], [0.6, 1.0]], loiter_s=5.0)


def _track(x: float, y: float, label: str = "person", track_id: int = 7) -> Track:
    """A 40x100 box whose foot point is at (x, y) of the frame."""
    box = (round(x * 1000) - 20, round(y * 1000) - 100, 40, 100)
    return Track(track_id, label, box, 0.0, 0.0, 0.9, box, confirmed=True, frames=3)


def _walk(rules: Rules, points: list[tuple[float, float]], label: str = "person", start_s: float = 0.0):
    events = []
    for i, (x, y) in enumerate(points):
        events += [r.event for r in rules.update([_track(x, y, label)], [], SIZE, start_s + i, b"jpeg", start_s + i)]
    return events


def test_a_line_is_crossed_once_each_way_and_wavering_on_it_counts_once() -> None:
    rules = Rules(1, [], [DOOR])
    across = _walk(rules, [(0.3, 0.5), (0.45, 0.5), (0.5, 0.5), (0.505, 0.5), (0.49, 0.5), (0.52, 0.5), (0.7, 0.5)])
    starts = [e for e in across if e.phase is EventPhase.START]
    assert [(e.type, e.line, e.direction, e.track_id) for e in starts] == [(EventType.LINE_CROSSED, "door", "in", 7)]
    assert starts[0].snapshot and starts[0].label == "person"
    ends = [e for e in across if e.phase is EventPhase.END]
    assert [e.id for e in ends] == [starts[0].id] and ends[0].ended_at_s == starts[0].started_at_s
    back = _walk(rules, [(0.6, 0.5), (0.4, 0.5)], start_s=10)
    assert [e.direction for e in back if e.phase is EventPhase.START] == ["out"]


def test_walking_round_the_end_of_a_line_or_being_another_type_is_no_crossing() -> None:
    rules = Rules(1, [], [DOOR])
    assert _walk(rules, [(0.3, 0.5), (0.3, 0.95), (0.7, 0.95), (0.7, 0.5)]) == []
    assert _walk(Rules(1, [], [DOOR]), [(0.3, 0.5), (0.7, 0.5)], label="dog") == []
    path = Line(name="path", points=[[0.1, 0.5], [0.5, 0.5], [0.5, 0.9]], objects=["dog"])
    crossed = _walk(Rules(1, [], [path]), [(0.3, 0.4), (0.3, 0.6), (0.6, 0.7)], label="dog")
    assert [e.direction for e in crossed if e.phase is EventPhase.START] == ["in", "out"]


def test_a_rule_for_a_known_person_counts_their_face_only() -> None:
    door = Line(name="door", points=[[0.5, 0.8], [0.5, 0.2]], objects=["face"], identities=["Alice"])
    rules = Rules(1, [], [door])
    crossings = []
    for who, track_id in (("Alice", 1), ("Bob", 2), (None, 3)):
        for i, x in enumerate((0.3, 0.7)):
            track = _track(x, 0.5, "face", track_id)
            track.identity = who
            crossings += [r.event for r in rules.update([track], [], SIZE, float(i), None, float(i))]
    assert [e.track_id for e in crossings if e.phase is EventPhase.START] == [1]


def test_a_zone_is_entered_left_and_lingered_in_once() -> None:
    rules = Rules(1, [HALL], [])
    walk = [(0.5, 0.5), (0.7, 0.5)] + [(0.7 + 0.01 * i, 0.5) for i in range(8)] + [(0.3, 0.5), (0.3, 0.5)]
    events = _walk(rules, walk)
    kinds = [(e.type, e.phase) for e in events]
    assert kinds == [
        (EventType.ZONE_ENTERED, EventPhase.START), (EventType.ZONE_ENTERED, EventPhase.END),
        (EventType.LOITERING, EventPhase.START),
        (EventType.ZONE_LEFT, EventPhase.START), (EventType.ZONE_LEFT, EventPhase.END),
        (EventType.LOITERING, EventPhase.END),
    ], kinds  # fmt: skip
    loitering = [e for e in events if e.type is EventType.LOITERING]
    assert loitering[0].started_at_s == 1.0 and loitering[1].ended_at_s == 10.0  # from entering to stepping out
    assert all(e.zone == "hall" and e.track_id == 7 for e in events)


def test_a_track_that_ends_leaves_its_zones_and_occupancy_follows() -> None:
    rules = Rules(1, [HALL], [])
    _walk(rules, [(0.8, 0.5)])
    assert rules.occupancy() == {"hall": 1}
    left = [r.event for r in rules.update([], [_track(0.8, 0.5)], SIZE, 3.0, None, 3.0)]
    assert [(e.type, e.phase) for e in left] == [(EventType.ZONE_LEFT, EventPhase.START),
                                                 (EventType.ZONE_LEFT, EventPhase.END)]  # fmt: skip
    assert rules.occupancy() == {"hall": 0}


@pytest.mark.parametrize(("analysis", "reason"), [
    ({"lines": [{"name": "a", "points": [[0.1, 0.1]]}]}, "at least two points"),
    ({"lines": [{"name": "a", "points": [[0.1, 0.1], [0.1, 0.1]]}]}, "zero length"),
    ({"lines": [{"name": "a", "points": [[0.1, 1.5], [0.5, 0.1]]}]}, "less than or equal to 1"),
    ({"zones": [{"name": "a", "points": [[0, 0], [1, 0], [1, 1]]}],
      "lines": [{"name": "A", "points": [[0.1, 0.1], [0.5, 0.1]]}]}, "duplicate zone or line name"),
    ({"zones": [{"name": "a", "points": [[0, 0], [1, 0], [1, 1]], "objects": ["unicorn"]}]}, "unknown object type"),
    ({"zones": [{"name": "a/b", "points": [[0, 0], [1, 0], [1, 1]]}]}, "should match pattern"),
])  # fmt: skip
def test_bad_lines_and_zones_are_refused_with_the_reason(analysis: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        AnalysisConfig.model_validate(analysis)


def test_filters_name_the_new_types_and_a_label_picks_detections_only() -> None:
    from shared.labels import event_kind, matches  # noqa: PLC0415 - this test's alone

    for kind in ("tamper", "line_crossed", "zone_entered", "zone_left", "loitering"):
        assert event_kind(kind) == kind
    assert matches(["dog"], "object", "dog") and not matches(["dog"], "line_crossed", "dog")
    assert matches(["line_crossed"], "line_crossed", "dog") and not matches(["person"], "zone_entered", "person")
