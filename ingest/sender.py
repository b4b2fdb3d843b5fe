"""A thread that hands what a camera's reader queues to Redis, so the reader never waits on it:
the base of the packet and audio publishers (each says what to queue and how to send it)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class QueueSender(threading.Thread, Generic[T]):
    def __init__(self, name: str, size: int | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self._pending: deque[T] = deque(maxlen=size)
        self._wake = threading.Condition()
        self._stopping = False

    def _queue(self, item: T) -> None:
        """Call with self._wake held."""
        self._pending.append(item)
        self._wake.notify()

    def _send(self, item: T) -> None:
        raise NotImplementedError

    def stop(self, timeout_s: float = 2.0) -> None:
        """Send what is waiting, then end the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.join(timeout_s)

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait(0.5)
                if self._stopping and not self._pending:
                    return
                item = self._pending.popleft()
            try:
                self._send(item)
            except Exception:  # a bug must not end the thread: the camera would stop publishing for good
                log.exception("%s: could not send an item; going on", self.name)
