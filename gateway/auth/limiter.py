"""Password checks limited per client address, per user name and per known device, with
exponential back-off.

Each key (an address, a name, a device) has FREE failures; past them every failure doubles the
wait before the next try (BASE_WAIT_S, then twice that, ... at most MAX_WAIT_S), and a key with
no failure for FORGET_S starts again. While a key waits, every login under it is refused with 429
and a Retry-After, whether or not the password is right: the answer never tells a guesser that a
guess was good.

An attempt is counted when it starts, before the password is checked (`begin`), and let off only
if it succeeds (`succeeded`): however many arrive at once, no key gets more than its free checks.
A success clears its name and device keys but never its address's: logging in to one's own
account must not buy more guesses at another's.

Kept in this gateway's memory (each gateway of a multi-host setup counts its own), at most
MAX_KEYS keys, the least recently failed forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

BASE_WAIT_S = 60.0
MAX_WAIT_S = 15 * 60.0
FORGET_S = 3600.0
MAX_KEYS = 10_000


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginLimiter:
    def __init__(self, free: int) -> None:
        self.free = free
        self.checking = 0  # password checks under way (the login route keeps it)
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until a login under these keys may be tried, or None: it may be now."""
        now = time.monotonic()
        waits = [self._wait(key, now) for key in keys]
        longest = max(waits, default=0.0)
        return max(1, math.ceil(longest)) if longest > 0 else None

    def begin(self, *keys: str) -> int | None:
        """Count an attempt under these keys now, before its password is checked; or, when one of
        them must wait, the seconds to wait (and nothing is counted)."""
        wait = self.retry_after(*keys)
        if wait is None:
            now = time.monotonic()
            for key in keys:
                failures = self._keys.pop(key, None) or _Failures()
                failures.count, failures.last = failures.count + 1, now
                self._keys[key] = failures  # newest last: the oldest keys go first when there are too many
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        return wait

    def succeeded(self, *keys: str, cleared: tuple[str, ...] = ()) -> None:
        """The attempt begun under `keys` was right: it is not counted; `cleared` keys start again."""
        for key in keys:
            failures = self._keys.get(key)
            if failures is not None and failures.count > 0:
                failures.count -= 1
        for key in cleared:
            self._keys.pop(key, None)

    def _wait(self, key: str, now: float) -> float:
        failures = self._keys.get(key)
        if failures is None:
            return 0.0
        if now - failures.last >= FORGET_S:
            del self._keys[key]
            return 0.0
        if failures.count < self.free:
            return 0.0
        backoff = min(MAX_WAIT_S, BASE_WAIT_S * 2.0 ** (failures.count - self.free))
        return failures.last + backoff - now
