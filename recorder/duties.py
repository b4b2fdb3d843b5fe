"""The system's once-only work, done by one recorder however many there are (one per host whose
footage stays on its own disk, one for a shared folder): the camera-health events (recording gaps,
cameras offline) and event retention. Whoever holds `camstream:recorder:duties` does them; the
holder renews it every pass, and another recorder takes it over once it lapses (DUTIES_TTL_S after
the holder's last renewal: killed, cut off). A health event left open by the last holder is taken up
by the next (recorder.health). Each recorder still indexes, judges and prunes its own disk.

Redis away: the holder keeps its duties until the lease would have lapsed, then nobody holds them
until Redis is back (health events need Redis's camera statuses anyway).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time

import redis

from shared import keys
from shared.redis_client import KEEP_OR_TAKE, RELEASE_IF_HELD

log = logging.getLogger(__name__)

DUTIES_TTL_S = 10.0


class Duties:
    def __init__(self, client: redis.Redis, host: str) -> None:
        self.client = client
        self.name = f"{host}:{os.getpid()}"  # who holds them, as /api/system shows
        self._keep = client.register_script(KEEP_OR_TAKE)
        self._confirmed_at = -float("inf")  # monotonic time of the last renewal Redis confirmed
        self.held = False

    def renew(self) -> bool:
        """Whether this recorder does the duties now (blocking: one Redis call)."""
        started = time.monotonic()
        try:
            ours = bool(self._keep(keys=[keys.recorder_duties()], args=[self.name, int(DUTIES_TTL_S * 1000)]))
        except redis.RedisError:
            ours = self.held and time.monotonic() - self._confirmed_at < DUTIES_TTL_S
        else:
            self._confirmed_at = started if ours else self._confirmed_at
        if ours != self.held:
            log.info("recorder: %s the system's duties (camera health events, event retention)",
                     "took up" if ours else "gave up")  # fmt: skip
        self.held = ours
        return ours

    def give_up(self) -> None:
        """At a clean stop: the next recorder takes over at once, not after the TTL."""
        if self.held:
            with contextlib.suppress(redis.RedisError):
                self.client.eval(RELEASE_IF_HELD, 1, keys.recorder_duties(), self.name)
            self.held = False
