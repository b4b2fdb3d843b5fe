"""Identity of an analyzer worker."""

from __future__ import annotations

import os
import socket
import time


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000) % 100000:05d}"
