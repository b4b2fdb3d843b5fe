"""Pure parts of the analyzer: motion hysteresis, zones and masks, tracking, leases' assignment, watchdog."""

from __future__ import annotations

import time

import numpy as np
import pytest

from analyzer.leases import assignment
from analyzer.motion import MotionDetector
from analyzer.persons import Detection, ssd_anchors, tiles
from analyzer.tracking import Tracker
from analyzer.watchdog import DetectorHung, Watchdog


def scene(t: int, square_at: int | None) -> np.ndarray:
    rng = np.random.default_rng(t)
    image = np.full((240, 320, 3), 90, np.uint8) + rng.integers(0, 4, (240, 320, 3), dtype=np.uint8)
    if square_at is not None:
        image[100:160, square_at : square_at + 40] = 230
    return image


def test_still_scene_has_no_motion() -> None:
    detector = MotionDetector()
    results = [detector.update(scene(t, None), t / 5) for t in range(60)]
    assert not any(r.moving or r.started for r in results)


def test_one_movement_is_one_event_with_a_start_and_an_end() -> None:
    detector = MotionDetector(end_s=2.0)
    frames = [None] * 10 + [20 + 8 * i for i in range(25)] + [None] * 20
    results = [detector.update(scene(t, x), t / 5) for t, x in enumerate(frames)]
    assert sum(r.started for r in results) == 1
    assert sum(r.ended for r in results) == 1
    start = next(i for i, r in enumerate(results) if r.started)
    end = next(i for i, r in enumerate(results) if r.ended)
    assert 10 <= start <= 13 and end >= 35 + 9  # ends about 2 s after the last movement
    assert all(r.boxes for r in results[11:34])


def test_masks_and_zones_decide_where_motion_counts() -> None:
    left_mask = [[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]]
    moving_left = [None] * 5 + [20 + 4 * i for i in range(15)]
    masked = MotionDetector(masks=left_mask)
    assert not any(masked.update(scene(t, x), t / 5).moving for t, x in enumerate(moving_left))
    zoned = MotionDetector(zones=left_mask)
    assert any(zoned.update(scene(t, x), t / 5).moving for t, x in enumerate(moving_left))


def test_tracker_makes_one_event_of_consecutive_sightings() -> None:
    tracker = Tracker(min_frames=2, max_gap_s=1.0)
    person = [Detection("person", (100 + 5 * i, 50, 40, 100), 0.6 + 0.01 * i) for i in range(10)]
    started = ended = 0
    for i, d in enumerate(person):
        changes = tracker.update([d], i * 0.2)
        started += len(changes.started)
    for i in range(10, 20):
        changes = tracker.update([], i * 0.2)
        ended += len(changes.ended)
        if changes.ended:
            track = changes.ended[0]
    assert started == 1 and ended == 1
    assert track.frames == 10 and track.best_score == pytest.approx(0.69)
    # A single sighting is noise: no event.
    lone = Tracker(min_frames=2)
    assert not lone.update([person[0]], 0.0).started and not lone.update([], 5.0).ended


def test_assignment_is_even_and_the_same_everywhere() -> None:
    split = assignment([4, 2, 3, 1], ["b", "a"])
    assert split == {1: "a", 2: "b", 3: "a", 4: "b"}
    assert assignment([1, 2, 3], ["a"]) == {1: "a", 2: "a", 3: "a"}
    assert assignment([1, 2], []) == {}


def test_ssd_anchor_count_and_tiles() -> None:
    assert len(ssd_anchors([(19, 19), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)])) == 1917
    left, right = tiles(480, 360, 2)
    assert left[0] == 0 and right[0] + right[2] == 480 and left[2] > 240


def test_watchdog_abandons_a_hung_call_and_goes_on() -> None:
    watchdog = Watchdog(timeout_s=0.2, max_abandoned=2)
    with pytest.raises(DetectorHung):
        watchdog(time.sleep, 1.0)
    assert watchdog(lambda x: x * 2, 21) == 42
    assert not watchdog.needs_restart
    with pytest.raises(DetectorHung):
        watchdog(time.sleep, 1.0)
    assert watchdog.needs_restart
    watchdog.close()
