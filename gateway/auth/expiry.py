"""Login sessions past their expiry deleted, and the audit log's failed logins kept to the newest
KEEP_FAILED_LOGINS, in the background. (Events expire in the recorder: recorder.event_retention.)"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from shared.db.accounts import Accounts
from shared.db.engine import DatabaseUnavailable, reason

log = logging.getLogger(__name__)

FIRST_PASS_S = 5.0  # after start: a gateway that was down for a while catches up soon
INTERVAL_S = 600.0
# Failed logins kept in the audit log: the newest ones, however many addresses guess.
KEEP_FAILED_LOGINS = 10_000


async def keep_expiring(accounts: Accounts) -> None:
    """For ever (cancel to stop). Two gateways may both run it: harmless."""
    await asyncio.sleep(FIRST_PASS_S)
    while True:
        try:
            await accounts.delete_expired_sessions(time.time())
            trimmed = await accounts.trim_failed_logins(KEEP_FAILED_LOGINS)
            if trimmed:
                log.info("accounts: deleted the %d oldest failed-login entries of the audit log", trimmed)
        except (SQLAlchemyError, DatabaseUnavailable) as e:
            log.warning("accounts: database unavailable (%s); expiring sessions later", reason(e))
        await asyncio.sleep(INTERVAL_S)
