"""The tamper detector on real footage (the tamper set's pets camera, rendered in memory): each
kind of tamper found with its reason within the hold, a change of light alone never suspected, the
owner's new normal learnt again; its reference record read back as written, garbage refused."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.detectors.tamper import (
    LEARN_S,
    TamperDetector,
    TamperReason,
    from_record,
    look_at,
    to_record,
)
from analyzer.tamper_set import CLIPS, DATA
from analyzer.tamper_set import Camera as TamperCamera
from bridge.notify import title_of
from shared.detections import Event, EventPhase, EventType
from shared.messages import MessageError
from shared.tamper_reference import TamperReference

HOLD_S = 5.0
LOOK_S = 0.5
PARAMS = {
    "covered": {"share": 0.7, "tone": 0.5, "side": 0.8},
    "defocused": {"sigma": 7.0, "veil": 0.35},
    "moved": {"angle": -12.0, "shift": -0.13},
    "blinded": {"x": 0.4, "y": 0.5, "radius": 0.4, "exposure": 0.5},
}


@pytest.fixture(scope="module")
def pets() -> TamperCamera:
    if not (DATA / CLIPS["pets"]).is_file():
        pytest.skip(f"test footage missing: {DATA / CLIPS['pets']}")
    tampers = [{"kind": kind, "start_s": 20.0 + 40 * i, "end_s": 40.0 + 40 * i, "params": params}
               for i, (kind, params) in enumerate(PARAMS.items())]  # fmt: skip
    labels = {"clip": CLIPS["pets"], "tamper_part_s": 180.0, "total_s": 180.0, "tampers": tampers, "benign": []}
    return TamperCamera("pets", labels)


def _play(camera: TamperCamera, detector: TamperDetector, start_s: float, end_s: float,
          gain: float = 1.0) -> list[tuple[float, TamperReason | None, bool]]:  # fmt: skip
    changes = []
    t_s = start_s
    while t_s < end_s:
        frame = camera.frame(t_s) if gain == 1.0 else np.clip(camera.frame(t_s) * gain, 0, 255).astype(np.uint8)
        change = detector.update(frame, t_s)
        if change.started is not None or change.ended:
            changes.append((t_s, change.started, change.ended))
        t_s += LOOK_S
    return changes


def test_each_tamper_is_found_with_its_reason_within_the_hold_and_ends_when_it_goes(pets: TamperCamera) -> None:
    detector = TamperDetector(hold_s=HOLD_S)
    changes = _play(pets, detector, 0.0, 180.0)
    starts = [(t, reason) for t, reason, _ended in changes if reason is not None]
    ends = [t for t, _reason, ended in changes if ended]
    assert [str(r) for _t, r in starts] == list(PARAMS), changes
    for (t_s, _reason), tamper in zip(starts, pets.tampers, strict=True):
        assert tamper.start_s + HOLD_S <= t_s <= tamper.start_s + HOLD_S + 5, (tamper.kind, t_s)
    assert len(ends) == 4 and all(tamper.end_s <= t <= tamper.end_s + 6 for t, tamper in zip(ends, pets.tampers,
                                                                                              strict=True))  # fmt: skip


def test_light_alone_is_not_a_tamper_and_a_new_normal_is_learnt_again(pets: TamperCamera) -> None:
    detector = TamperDetector(hold_s=HOLD_S)
    assert _play(pets, detector, 0.0, 19.0) == []
    assert _play(pets, detector, 0.0, 19.0, gain=0.3) == [], "a sudden dusk is not a tamper"
    assert _play(pets, detector, 0.0, 19.0, gain=1.3) == [], "nor a sudden bright day"
    detector = TamperDetector(hold_s=HOLD_S)
    _play(pets, detector, 0.0, 19.0)
    [(_t, reason, _e)] = _play(pets, detector, 100.0, 110.0)  # turned away
    assert reason is TamperReason.MOVED and detector.open_reason is TamperReason.MOVED
    detector.relearn()
    detector.open_reason = None  # the worker ends the open event itself (analyzer.pipeline.rereference)
    assert _play(pets, detector, 105.0, 118.0 + LEARN_S) == [], "the turned view is the normal one now"


def test_the_reference_record_reads_back_as_written_and_garbage_is_refused(pets: TamperCamera) -> None:
    detector = TamperDetector(hold_s=HOLD_S)
    _play(pets, detector, 0.0, 8.0)
    assert detector.reference is not None
    record = to_record(detector.reference, 12.5)
    again = TamperReference.decode(record.encode())
    assert again == record and again.relearned_at_s == 12.5
    reference = from_record(again)
    assert np.array_equal(reference.small, detector.reference.small.astype(np.float32))
    look = look_at(pets.frame(3.0))
    assert look.small.shape == reference.small.shape
    for bad in (b"\x00", TamperReference(b"x", 1, 0, 1, b"y", 0, 0).encode(), b"\x81\xa1v\x05"):
        with pytest.raises(MessageError):
            TamperReference.decode(bad)


def test_a_tamper_is_a_problem_of_the_camera_that_keeps_its_footage() -> None:
    assert EventType.TAMPER.is_problem and not EventType.TAMPER.is_health
    event = Event("1-00000000000000aa", 1, EventType.TAMPER, EventPhase.START, 1.0, None, None, None, 1, True, 1.0,
                  reason="covered")  # fmt: skip
    assert title_of(event, "Porch") == "Porch is covered"
    ended = Event(event.id, 1, EventType.TAMPER, EventPhase.END, 1.0, 9.0, None, None, 1, True, 9.0, reason="covered")
    assert title_of(ended, "Porch") == "Porch sees its normal view again"


def test_the_rules_events_have_titles_that_say_what_and_where() -> None:
    crossed = Event("1-00000000000000ab", 1, EventType.LINE_CROSSED, EventPhase.START, 1.0, None, 0.9, None, 3, True,
                    1.0, label="person", line="door", direction="in", track_id=4)  # fmt: skip
    assert title_of(crossed, "Shop") == "Person crossed door (in) at Shop"
    lingering = Event("1-00000000000000ac", 1, EventType.LOITERING, EventPhase.START, 1.0, None, 0.9, None, 3, True,
                      1.0, label="person", zone="till", track_id=4)  # fmt: skip
    assert title_of(lingering, "Shop") == "Person lingering in till at Shop"
