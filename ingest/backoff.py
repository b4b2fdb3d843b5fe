"""Exponential backoff with jitter, reset once a connection has been stable for a while."""

from __future__ import annotations

import random


class Backoff:
    """Delays of about initial, 2*initial, ... up to max_s, each with +-20 % jitter.

    `succeeded_at(t)` marks when a connection started working; the next `next_delay(now)`
    starts from `initial_s` again if that connection lasted at least `reset_after_s`.
    """

    def __init__(
        self,
        initial_s: float = 1.0,
        max_s: float = 30.0,
        reset_after_s: float = 30.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.reset_after_s = reset_after_s
        self.jitter = jitter
        self.failures = 0
        self._rng = rng or random.Random()
        self._up_since: float | None = None

    def succeeded_at(self, now: float) -> None:
        if self._up_since is None:
            self._up_since = now

    def next_delay(self, now: float) -> float:
        if self._up_since is not None and now - self._up_since >= self.reset_after_s:
            self.failures = 0
        self._up_since = None
        base = min(self.max_s, self.initial_s * 2.0**self.failures)
        self.failures += 1
        return base * (1.0 + self._rng.uniform(-self.jitter, self.jitter))
