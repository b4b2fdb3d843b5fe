"""Pure parts of the analyzer: motion hysteresis, zones and masks, tracking, leases' assignment, watchdog."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from analyzer.detectors.detection import Detection
from analyzer.detectors.faces import MIN_PERSON_HEIGHT, person_regions
from analyzer.detectors.motion import MotionDetector
from analyzer.detectors.persons import PersonDetector, ssd_anchors, tiles
from analyzer.leases import assignment
from analyzer.regions import tiles_for_motion
from analyzer.tracking import Tracker
from analyzer.watchdog import DetectorHung, Watchdog
from tests.support.scenes import scene


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
    tracker = Tracker(min_frames=2, max_misses=3, min_gap_s=0.5)
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
    # Seen only at rare looks (a still scene checked every 5 s), a person stays one event.
    still = Tracker(min_frames=2, max_misses=3)
    changes = [still.update([person[0]] if i % 25 == 0 else [], i * 0.2) for i in range(0, 200, 25)]
    assert sum(len(c.started) for c in changes) == 1 and not any(c.ended for c in changes)


def test_faces_are_looked_for_only_near_people_tall_enough_to_show_one() -> None:
    """A person under MIN_PERSON_HEIGHT px shows a face under YuNet's ~10 px: no search there."""
    near, far = Detection("person", (100, 50, 40, 120), 0.9), Detection("person", (300, 80, 20, 40), 0.9)
    assert far.box[3] < MIN_PERSON_HEIGHT <= near.box[3]
    regions = person_regions([near, far], 640, 360)
    assert [person for person, _ in regions] == [near]
    x1, y1, x2, y2 = regions[0][1]
    assert (x1, y1) <= (100, 50) and x2 >= 140 and y2 < 170  # the upper part of the box, widened


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


def test_a_users_onnx_person_model_with_the_documented_layout(tmp_path: Path) -> None:
    """Input [1, 3, 64, 64] RGB 0..1; output [1, N, 6] x1, y1, x2, y2, score, class in input pixels."""
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    rows = np.array([[[8, 16, 24, 48, 0.9, 0], [0, 0, 32, 32, 0.95, 2], [40, 8, 56, 40, 0.2, 0]]], np.float32)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),  # uses the input, as models do
         helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
         helper.make_node("Add", ["rows", "nothing"], ["output0"])],
        "fixed", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 6])],
        initializer=[numpy_helper.from_array(rows, "rows"), numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "people.onnx"
    path.write_bytes(model.SerializeToString())

    for provider in ("CPUExecutionProvider", "OpenVINO"):
        detector = PersonDetector(tmp_path, model_path=path, provider=provider, tiles=1)
        found = detector.detect(np.zeros((128, 256, 3), np.uint8), min_score=0.5)
        # Only the class-0 row above the threshold, scaled from 64x64 to 256x128.
        assert found == [Detection("person", (32, 32, 64, 64), 0.9)], provider
        assert detector.provider == provider


def test_with_zones_only_objects_standing_in_one_count() -> None:
    from analyzer.detectors.detection import Detection  # noqa: PLC0415
    from analyzer.object_rules import in_zones  # noqa: PLC0415

    door = [[[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]]  # the lower left quarter of a 200x100 frame
    inside = Detection("person", (10, 20, 20, 60), 0.9)  # feet at (20, 80): in the zone
    beyond = Detection("person", (90, 60, 40, 30), 0.9)  # its box reaches into the zone, its feet (110, 90) do not
    assert in_zones([inside, beyond], door, 200, 100) == [inside]
    assert in_zones([inside, beyond], [], 200, 100) == [inside, beyond], "no zones: everything counts"


def test_people_are_looked_for_where_it_moved_when_that_fits_one_tile() -> None:
    # 640x360: two full-height tiles of 352 px; a walker on the left needs one tile only.
    one = tiles_for_motion([(40, 150, 30, 80)], 640, 360, 2)
    assert one == [(0, 0, 352, 360)]
    right = tiles_for_motion([(560, 100, 40, 90)], 640, 360, 2)
    assert right == [(288, 0, 352, 360)]
    # Movement on both sides, nothing moving, or a one-tile frame: the whole frame.
    assert tiles_for_motion([(40, 150, 30, 80), (560, 100, 40, 90)], 640, 360, 2) is None
    assert tiles_for_motion([], 640, 360, 2) is None
    assert tiles_for_motion([(40, 150, 30, 80)], 480, 640, 1) is None


def test_a_person_not_looked_at_is_not_missed() -> None:
    still = Detection("person", (500, 100, 40, 100), 0.8)
    tracker = Tracker(min_frames=2, max_misses=3, min_gap_s=0.5)
    assert tracker.update([still], 0.0).assigned and tracker.update([still], 0.2).started
    left_only = [(0, 0, 352, 360)]
    for i in range(2, 30):  # 5.6 s of looking only at the left, where someone else walks
        assert not tracker.update([], i * 0.2, looked=left_only).ended
    ended = [c for i in range(30, 40) for c in tracker.update([], i * 0.2).ended]  # whole frames: gone now
    assert len(ended) == 1 and ended[0].box == still.box
