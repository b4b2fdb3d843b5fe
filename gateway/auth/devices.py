"""Known devices: a browser or program that has logged in as a user before carries a device cookie
that says so, sealed with the gateway's key (shared.secret_box), so that a flood of wrong
passwords for that name from elsewhere cannot lock its owner out (OWASP's "device cookies").

A login with a valid device cookie for the name it gives is limited under the device's own key
only; without one it is limited per name and per address. The cookie is sent only to the login
call (Path=/api/auth/login), HttpOnly, SameSite=Strict, and proves nothing by itself: a password
is still checked.
"""

from __future__ import annotations

import secrets

from starlette.requests import cookie_parser
from starlette.types import Scope

from shared.secret_box import SecretBox, is_sealed
from shared.settings import ConfigError

DEVICE_COOKIE = "camstream_device"
DEVICE_DAYS = 180
_MAX_COOKIE = 512


class KnownDevices:
    def __init__(self, box: SecretBox) -> None:
        self._box = box

    def new_cookie(self, username: str, scope: Scope) -> bytes:
        """The Set-Cookie value naming a new known device of `username`."""
        value = self._box.seal(f"device:{username.lower()}:{secrets.token_urlsafe(12)}")
        secure = "; Secure" if scope["scheme"] in ("https", "wss") else ""
        return (f"{DEVICE_COOKIE}={value}; Max-Age={DEVICE_DAYS * 86400}; Path=/api/auth/login; HttpOnly; "
                f"SameSite=Strict{secure}").encode()  # fmt: skip

    def device(self, cookie_header: str, username: str) -> str | None:
        """The device id when the request carries a device cookie of `username` that is ours and not
        older than DEVICE_DAYS; None otherwise."""
        value = cookie_parser(cookie_header).get(DEVICE_COOKIE, "")
        if not value or len(value) > _MAX_COOKIE or not is_sealed(value):
            return None
        try:
            text = self._box.open(value, max_age_s=DEVICE_DAYS * 86400)
        except ConfigError:
            return None
        kind, _, rest = text.partition(":")
        name, _, device = rest.rpartition(":")
        return device if kind == "device" and name == username.lower() and device else None
