"""Open streams end when their credentials stop letting them in: a revoked token, a logout, a
password change or a deleted user ends the holder's event sockets, MJPEG streams and WebRTC
sessions within a second, on every gateway (each asks the shared database), not only new requests.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.auth.credentials import Authenticator, Principal
from gateway.webrtc.sessions import Sessions

log = logging.getLogger(__name__)

# How often a stream's credential is checked: answers are cached for CACHE_S (1 s) per credential,
# and forgotten at once on this gateway when revoked here.
CHECK_EVERY_S = 0.4
REVOKED_CLOSE_CODE = 4401  # as the Guard's refusal of a socket without credentials


async def until_revoked(auth: Authenticator, principal: Principal) -> None:
    """Returns once `principal`'s credential no longer lets it in."""
    while True:
        await asyncio.sleep(CHECK_EVERY_S)
        if not await auth.still_valid(principal):
            return


async def end_revoked_sessions(auth: Authenticator, sessions: Sessions) -> None:
    """For the gateway's life: close each WebRTC session whose viewer's credential was revoked."""
    while True:
        await asyncio.sleep(CHECK_EVERY_S)
        for session in list(sessions.sessions.values()):
            if session.principal is not None and not await auth.still_valid(session.principal):
                await sessions.close(session.id, "credentials revoked")
