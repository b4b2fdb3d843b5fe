"""Probing a camera from the API: `python -m ingest --probe` as a child process (the URL on its
standard input), bounded in time and in how many run at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

PROBE_TIMEOUT_S = 20.0
MAX_PROBES = 2  # at once; each holds a process and a connection for up to PROBE_TIMEOUT_S


class TooManyProbes(Exception):
    pass


class Prober:
    def __init__(self) -> None:
        self._running = 0

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
            sys.executable, "-m", "ingest", "--probe",
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
