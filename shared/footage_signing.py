"""Requests for footage kept on another host's disk (recorder.serve) are signed by the gateway that
makes them: HMAC-SHA256, under a key derived from CAMSTREAM_SECRET_KEY (the same on every host),
over the method, the path and an expiry a minute ahead. Nothing secret travels: a request seen on
the wire can be replayed for two minutes at most (its minute, and a minute of clock difference
between hosts), for that same file.
"""

from __future__ import annotations

import hashlib
import hmac

EXPIRES_HEADER = "X-Camstream-Expires"
SIGNATURE_HEADER = "X-Camstream-Signature"
VALID_S = 60  # a signature's life; hosts' clocks may differ by as much again
_PURPOSE = b"camstream footage requests v1"  # the secret key also seals camera credentials: never used bare


def footage_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, method: str, path: str, expires: int) -> str:
    return hmac.new(key, f"{method.upper()}\n{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed(key: bytes, method: str, path: str, now_s: float) -> dict[str, str]:
    """The headers that sign a request for `path`."""
    expires = int(now_s) + VALID_S
    return {EXPIRES_HEADER: str(expires), SIGNATURE_HEADER: _signature(key, method, path, expires)}


def refusal(key: bytes, method: str, path: str, expires: str | None, signature: str | None, now_s: float) -> str | None:
    """Why a request is refused (None: it is signed, and in time)."""
    if not expires or not signature:
        return "unsigned: footage is served to camstream's gateways only"
    if not expires.isdigit() or len(expires) > 12:
        return "a malformed expiry"
    if int(expires) < now_s - VALID_S or int(expires) > now_s + 2 * VALID_S:
        return "the signature has expired (or the hosts' clocks differ by more than a minute)"
    if not hmac.compare_digest(_signature(key, method, path, int(expires)), signature):
        return "a wrong signature (is CAMSTREAM_SECRET_KEY the same on every host?)"
    return None
