"""Deleting events (and their snapshots) older than CAMSTREAM_EVENTS_RETAIN_DAYS, in the
background, in small batches, so that a long backlog never holds the database for long; and
login sessions past their expiry."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from shared.db.accounts import Accounts
from shared.db.engine import DatabaseUnavailable, reason
from shared.db.events import EventHistory

log = logging.getLogger(__name__)

FIRST_PASS_S = 5.0  # after start: a gateway that was down for a while catches up soon
INTERVAL_S = 600.0
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


# Failed logins kept in the audit log: the newest ones, however many addresses guess.
KEEP_FAILED_LOGINS = 10_000


async def keep_expiring(history: EventHistory, accounts: Accounts, retain_days: float) -> None:
    """Run `expire` now and then, and delete expired login sessions, for ever (cancel to stop).
    Two gateways may both run it: harmless."""
    await asyncio.sleep(FIRST_PASS_S)
    while True:
        try:
            deleted = await expire(history, retain_days)
            if deleted:
                log.info("retention: deleted %d event(s) older than %g day(s)", deleted, retain_days)
            await accounts.delete_expired_sessions(time.time())
            trimmed = await accounts.trim_failed_logins(KEEP_FAILED_LOGINS)
            if trimmed:
                log.info("retention: deleted the %d oldest failed-login entries of the audit log", trimmed)
        except (SQLAlchemyError, DatabaseUnavailable) as e:
            log.warning("retention: database unavailable (%s); trying again later", reason(e))
        await asyncio.sleep(INTERVAL_S)
