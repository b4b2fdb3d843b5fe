"""Pure timing logic of a camera: even frame dropping and reconnect backoff."""

from __future__ import annotations

import itertools
import random

import pytest

from ingest.backoff import Backoff
from ingest.pacing import FramePacer


@pytest.mark.parametrize(("source_fps", "target_fps"), [(30, 15), (25, 15), (25, 10), (15, 15), (10, 15), (30, 7)])
def test_pacer_keeps_the_target_rate_evenly(source_fps: int, target_fps: int) -> None:
    pacer = FramePacer(target_fps)
    kept = [i / source_fps for i in range(source_fps * 20) if pacer.keep(i / source_fps)]
    rate = (len(kept) - 1) / (kept[-1] - kept[0])
    assert rate == pytest.approx(min(source_fps, target_fps), rel=0.03)
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    # Even: no gap is more than one source frame longer than the ideal interval.
    assert max(gaps) <= max(1 / target_fps, 1 / source_fps) + 1 / source_fps + 1e-9


def test_pacer_restarts_after_a_jump_instead_of_bursting() -> None:
    pacer = FramePacer(10)
    assert pacer.keep(0.0)
    assert pacer.keep(100.0)  # a reconnect or a file loop
    assert not pacer.keep(100.02)
    assert pacer.keep(3.0)  # time went backwards: start afresh


def test_backoff_doubles_to_the_cap_with_jitter_and_resets_when_stable() -> None:
    backoff = Backoff(1.0, 30.0, reset_after_s=30.0, jitter=0.2, rng=random.Random(1))
    delays = [backoff.next_delay(now=0.0) for _ in range(8)]
    for delay, base in zip(delays, [1, 2, 4, 8, 16, 30, 30, 30], strict=True):
        assert base * 0.8 <= delay <= base * 1.2
    backoff.succeeded_at(100.0)
    assert backoff.next_delay(now=110.0) > 24  # a short stable spell keeps the long delay
    backoff.succeeded_at(200.0)
    assert backoff.next_delay(now=240.0) <= 1.2  # a stable connection resets it
