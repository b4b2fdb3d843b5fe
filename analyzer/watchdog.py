"""Analysis calls with a time limit, run on a thread of their own: a call that hangs is
abandoned and reported, and the worker goes on with a fresh thread. Python cannot kill a
thread, so a worker that has abandoned `max_abandoned` threads asks to be restarted (its
supervisor does that).

Calls are submitted and collected apart (`submit`, `result`), so the worker reads and decodes
the next frame while this thread analyses the last: a thread handed work only when the other
waits for it loses its turn on a busy machine at every hand-over (a worker analysing sixteen
cameras waited a quarter of its time that way, docs/analyzer.md)."""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class DetectorHung(RuntimeError):
    pass


@dataclass
class Call:
    """One submitted call: its future, and when it began to run (None: still queued)."""

    name: str
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)
    started_at: float | None = None

    def done(self) -> bool:
        return self.future.done()


class Watchdog:
    def __init__(self, timeout_s: float, max_abandoned: int = 3) -> None:
        self.timeout_s = timeout_s
        self.max_abandoned = max_abandoned
        self.hung = 0
        self._abandoned: list[concurrent.futures.Future[Any]] = []
        self._executor = self._new_executor()

    @staticmethod
    def _new_executor() -> concurrent.futures.ThreadPoolExecutor:
        return concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")

    @property
    def needs_restart(self) -> bool:
        return sum(not f.done() for f in self._abandoned) >= self.max_abandoned

    def submit(self, fn: Callable[..., Any], *args: Any) -> Call:
        """Queue `fn(*args)` on the analysis thread; calls run one at a time, in order."""
        call = Call(getattr(fn, "__qualname__", repr(fn)))

        def timed() -> Any:
            call.started_at = time.monotonic()
            return fn(*args)

        call.future = self._executor.submit(timed)
        return call

    def result(self, call: Call) -> Any:
        """The call's result, waiting until it has run `timeout_s`; past that it is abandoned
        (DetectorHung) and the calls queued behind it are cancelled (CancelledError)."""
        while True:
            started = call.started_at
            left = self.timeout_s if started is None else started + self.timeout_s - time.monotonic()
            try:
                return call.future.result(timeout=max(0.0, left))
            except concurrent.futures.TimeoutError:
                if call.started_at is None or call.started_at + self.timeout_s > time.monotonic():
                    continue  # it was queued behind another, or began late: its own time is not up
            self.hung += 1
            log.error("detector call %s ran past %.1f s: abandoned (%d so far)", call.name, self.timeout_s, self.hung)
            self._abandoned.append(call.future)
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            raise DetectorHung(f"{call.name} ran past {self.timeout_s:.1f} s")

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.result(self.submit(fn, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
