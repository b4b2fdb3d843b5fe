"""Detector calls with a time limit: a call that hangs is abandoned and reported, and the
worker goes on with a fresh thread. Python cannot kill a thread, so a worker that has
abandoned `max_abandoned` threads asks to be restarted (its supervisor does that)."""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class DetectorHung(RuntimeError):
    pass


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

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = self._executor.submit(fn, *args)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            self.hung += 1
            name = getattr(fn, "__qualname__", repr(fn))
            log.error("detector call %s ran past %.1f s: abandoned (%d so far)", name, self.timeout_s, self.hung)
            self._abandoned.append(future)
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            raise DetectorHung(f"{name} ran past {self.timeout_s:.1f} s") from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
