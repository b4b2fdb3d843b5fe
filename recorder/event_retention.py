"""Deleting events (and their snapshots) older than CAMSTREAM_EVENTS_RETAIN_DAYS, in small batches
so that a long backlog never holds the database for long: the recorder's, beside the recordings'
own retention (recorder.service), every EVERY_S and at its first pass."""

from __future__ import annotations

import asyncio
import time

from shared.db.events import EventHistory

EVERY_S = 600.0
BATCH = 500
PAUSE_S = 0.05  # between batches: writers get the database in between


async def expire(history: EventHistory, retain_days: float, now_s: float | None = None) -> int:
    """Delete every event that started more than retain_days ago; how many went."""
    cutoff_s = (time.time() if now_s is None else now_s) - retain_days * 86400.0
    total = 0
    while True:
        deleted = await history.delete_started_before(cutoff_s, BATCH)
        total += deleted
        if deleted < BATCH:
            return total
        await asyncio.sleep(PAUSE_S)
