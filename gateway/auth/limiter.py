"""Failed logins counted per user name and per client address over a sliding minute.

Past the limit every login for that name, or from that address, is refused with 429 and a
Retry-After until the oldest failure is a minute old, whether or not the password is right: the
answer never tells a guesser that a guess was good. Kept in this gateway's memory (each gateway
of a multi-host setup counts its own).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque

WINDOW_S = 60.0
MAX_KEYS = 10_000


class LoginLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until a login with these keys may be tried again, or None: it may be now."""
        now = time.monotonic()
        waits = []
        for key in keys:
            failures = self._recent(key, now)
            if failures is not None and len(failures) >= self.per_minute:
                waits.append(failures[-self.per_minute] + WINDOW_S - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            failures = self._failures.pop(key, None) or deque(maxlen=self.per_minute)
            failures.append(now)
            self._failures[key] = failures  # newest last: the oldest keys go first when there are too many
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - WINDOW_S:
            failures.popleft()
        return failures
