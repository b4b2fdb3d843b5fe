"""A thread that hands what a camera's reader queues to Redis or the disk, so the reader never
waits on it: the one loop of the frame, packet and audio publishers and the recording writers
(each says what to queue and how to send it). A sender that also works on a clock (the frame
publisher's status record) sets `tick_s` and is called at `_tick` that often, at once after
`poke`, and a last time when it stops."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.5  # a sender without a clock looks at its flags this often (stop is also notified)
TICK_WAIT_S = 0.25  # a sender with one: at most this long between two looks at the clock


class QueueSender(threading.Thread, Generic[T]):
    tick_s: float | None = None

    def __init__(self, name: str, size: int | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self._pending: deque[T] = deque(maxlen=size)
        self._wake = threading.Condition()
        self._stopping = False
        self._poked = False

    def _queue(self, item: T) -> None:
        """Call with self._wake held."""
        self._pending.append(item)
        self._wake.notify()

    def _send(self, item: T) -> None:
        raise NotImplementedError

    def _tick(self) -> None:
        """The clock's work (with tick_s set)."""

    def poke(self) -> None:
        """Tick now rather than when the clock says."""
        with self._wake:
            self._poked = True
            self._wake.notify()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Send what is waiting, tick a last time, then end the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.join(timeout_s)

    def run(self) -> None:
        next_tick = 0.0
        while True:
            with self._wake:
                while not (self._pending or self._stopping or self._tick_due(next_tick)):
                    self._wake.wait(IDLE_WAIT_S if self.tick_s is None
                                    else max(0.0, min(TICK_WAIT_S, next_tick - time.monotonic())))  # fmt: skip
                item = self._pending.popleft() if self._pending else None
                finishing = self._stopping and not self._pending
                tick = self.tick_s is not None and (finishing or self._tick_due(next_tick))
                self._poked = False
            if item is not None:
                self._send_or_log(item)
            if tick and self.tick_s is not None:
                self._tick()
                next_tick = time.monotonic() + self.tick_s
            if finishing:
                return

    def _tick_due(self, next_tick: float) -> bool:
        return self.tick_s is not None and (self._poked or time.monotonic() >= next_tick)

    def _send_or_log(self, item: T) -> None:
        try:
            self._send(item)
        except Exception:  # a bug must not end the thread: the camera would stop publishing for good
            log.exception("%s: could not send an item; going on", self.name)
