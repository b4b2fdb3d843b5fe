"""Process lifecycle helpers: a stop event set by SIGTERM/SIGINT, and dying with the parent."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM or SIGINT sets. Call from the main thread."""
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def die_with_parent() -> None:
    """Ask Linux to send us SIGTERM when the parent dies, so a killed manager leaves no orphans.

    Runs in the child between fork and exec (subprocess preexec_fn)."""
    # Off Linux this fails quietly: the manager's own shutdown still stops its children.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
