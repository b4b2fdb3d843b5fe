"""Probing a camera from the API: `python -m ingest probe` as a child process (the URL on its
standard input), bounded in time and in how many run at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import deque
from typing import Any

PROBE_TIMEOUT_S = 20.0
MAX_PROBES = 2  # at once; each holds a process and a connection for up to PROBE_TIMEOUT_S
# A minute's probes, at most: enough to try a camera's URLs by hand, too few to scan a network's
# ports with (the answers tell refused, timed out and not-RTSP apart).
PROBES_PER_MINUTE = 20


class TooManyProbes(Exception):
    pass


class Prober:
    def __init__(self) -> None:
        self._running = 0
        self._started: deque[float] = deque(maxlen=PROBES_PER_MINUTE)

    def admit(self) -> None:
        """Count a probe asked for (refused ones too: a scan of denied addresses is a scan); raises
        TooManyProbes past PROBES_PER_MINUTE a minute."""
        now = time.monotonic()
        if len(self._started) == PROBES_PER_MINUTE and now - self._started[0] < 60:
            raise TooManyProbes(f"{PROBES_PER_MINUTE} probes in the last minute; try again shortly")
        self._started.append(now)

    async def probe(self, url: str) -> dict[str, Any]:
        """The probe's answer ({"ok": ...}); raises TooManyProbes past MAX_PROBES at once."""
        if self._running >= MAX_PROBES:
            raise TooManyProbes(f"{MAX_PROBES} probes are running; try again shortly")
        self._running += 1
        try:
            return await self._run(url)
        finally:
            self._running -= 1

    async def _run(self, url: str) -> dict[str, Any]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ingest", "probe",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(process.communicate(f"{url}\n".encode()), PROBE_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return {"ok": False, "reason": f"timed out after {PROBE_TIMEOUT_S:g} s"}
        try:
            answer: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {"ok": False, "reason": "the probe failed (see the gateway's log)"}
        return answer
