"""Sessions and API tokens: making them, and finding who a cookie or a bearer token belongs to.

Secrets come from `secrets` and only their SHA-256 digests are stored. A session is found by the
digest of its cookie (a lookup by digest tells an attacker nothing about the secret); a token
carries its id, is found by it and its digest is compared in constant time.

What a credential resolves to is kept for CACHE_S, so a dashboard's requests do not each query
the database. This gateway forgets a credential at once when it is revoked here (logout, a
deleted token or user, a password change); another gateway within CACHE_S.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from shared.db.accounts import Accounts, Role, Token, User
from shared.db.engine import DatabaseUnavailable

SESSION_COOKIE = "camstream_session"
TOKEN_PREFIX = "cst_"  # noqa: S105 - a prefix that makes a leaked token easy to spot, not a secret
CACHE_S = 1.0
# While the database cannot be reached, a credential seen this recently still works (live video
# goes on through a database restart); one revoked here was forgotten at once, so stays refused.
STALE_S = 300.0
# A session's expiry slides forward when it is used, written at most this often.
SLIDE_EVERY_S = 300.0
TOKEN_TOUCH_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as."""

    user_id: int
    name: str
    role: Role
    via: str  # "session" or "token"
    credential: str  # the session's digest or the token's id
    expires_at: float | None = None  # a session's

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token_secret() -> tuple[str, str]:
    """(id, the whole token as given to its owner once)."""
    token_id = secrets.token_hex(6)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


class Authenticator:
    def __init__(self, accounts: Accounts, session_hours: float, session_max_days: float = 30.0) -> None:
        self.accounts = accounts
        self.session_s = session_hours * 3600.0
        self.max_age_s = session_max_days * 86400.0  # however much it is used, a session ends then
        self._cache: dict[str, tuple[float, Principal | None]] = {}  # key -> (when cached, answer)
        self._touched: dict[str, float] = {}

    async def start_session(self, user: User, client: str | None) -> tuple[str, Principal]:
        """A new session: (the cookie's value, its principal)."""
        secret = secrets.token_urlsafe(32)
        expires_at = time.time() + min(self.session_s, self.max_age_s)
        await self.accounts.add_session(digest(secret), user.id, expires_at, client)
        return secret, Principal(user.id, user.name, user.role, "session", digest(secret), expires_at)

    async def from_cookie(self, value: str) -> Principal | None:
        if not value or len(value) > 200:
            return None
        key = digest(value)
        hit, cached = self._cached(key)
        if hit:
            return cached
        try:
            found = await self.accounts.session(key, time.time())
        except (SQLAlchemyError, DatabaseUnavailable):
            return self._stale(key)
        principal = None
        if found is not None:
            user, expires_at = found
            principal = Principal(user.id, user.name, user.role, "session", key, expires_at)
        self._keep(key, principal)
        return principal

    async def slide(self, principal: Principal) -> Principal | None:
        """Move a session's expiry forward if it was last moved long enough ago: the principal with
        its new expiry (the cookie must be set again), or None when nothing changed."""
        now = time.time()
        if principal.via != "session" or principal.expires_at is None:
            return None
        if principal.expires_at - now > self.session_s - SLIDE_EVERY_S:
            return None
        try:
            ends = await self.accounts.extend_session(principal.credential, now + self.session_s, self.max_age_s)
        except (SQLAlchemyError, DatabaseUnavailable):
            return None  # the next request tries again; the session is still valid for hours
        if ends is None or ends <= principal.expires_at:  # gone, or at its absolute end already
            return None
        moved = replace(principal, expires_at=ends)
        self._keep(principal.credential, moved)
        return moved

    async def from_bearer(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        token_id, _, _secret = token.removeprefix(TOKEN_PREFIX).partition("_")
        key = digest(token)
        hit, cached = self._cached(key)
        if hit:
            return cached
        try:
            found = await self.accounts.token_by_id(token_id)
        except (SQLAlchemyError, DatabaseUnavailable):
            return self._stale(key)
        principal = None
        if found is not None and hmac.compare_digest(found[0].secret_hash, key):
            stored, user = found
            # A token never does more than its user may do now.
            principal = Principal(user.id, user.name, stored.role.at_most(user.role), "token", stored.id)
            await self._touch(stored)  # raises while the database fails: the request gets a 503
        self._keep(key, principal)
        return principal

    async def _touch(self, token: Token) -> None:
        now = time.monotonic()
        if now - self._touched.get(token.id, -TOKEN_TOUCH_EVERY_S) >= TOKEN_TOUCH_EVERY_S:
            self._touched[token.id] = now
            await self.accounts.touch_token(token.id, time.time())

    async def still_valid(self, principal: Principal) -> bool:
        """Whether the credential a connection was opened with still lets it in (not logged out,
        revoked, expired, its user not deleted): asked of the database at most once per CACHE_S per
        credential, however many streams hold it. While the database cannot say: yes."""
        key = f"valid:{principal.credential}"
        hit, cached = self._cached(key)
        if hit:
            return cached is not None
        try:
            if principal.via == "session":
                found: object = await self.accounts.session(principal.credential, time.time())
            else:
                found = await self.accounts.token_by_id(principal.credential)
        except (SQLAlchemyError, DatabaseUnavailable):
            return True  # nothing can be revoked while the database is away
        # Kept without an expiry: the session's may have slid since the stream opened; the database said.
        self._keep(key, replace(principal, expires_at=None) if found is not None else None)
        return found is not None

    def forget(self, credential: str | None = None, user_id: int | None = None) -> None:
        """Drop cached answers for one session digest or token id, or for every credential of a user
        (streams opened with them find out at their next check)."""
        for key, (_at, principal) in list(self._cache.items()):
            if principal is None:
                continue
            if principal.credential == credential or principal.user_id == user_id:
                del self._cache[key]

    def _cached(self, key: str) -> tuple[bool, Principal | None]:
        """(whether the answer was cached lately, the principal or None: known bad)."""
        hit = self._cache.get(key)
        if hit is None or time.monotonic() - hit[0] >= CACHE_S:
            return False, None
        return True, _unexpired(hit[1])

    def _stale(self, key: str) -> Principal | None:
        """What a credential was lately, while the database cannot say; raises if it was never seen."""
        hit = self._cache.get(key)
        if hit is None or time.monotonic() - hit[0] >= STALE_S:
            raise DatabaseUnavailable("database unavailable: cannot check credentials")
        return _unexpired(hit[1])

    def _keep(self, key: str, principal: Principal | None) -> None:
        if len(self._cache) > 10_000:  # many bad guesses: start over rather than grow
            self._cache.clear()
        self._cache[key] = (time.monotonic(), principal)


def _unexpired(principal: Principal | None) -> Principal | None:
    if principal is not None and principal.expires_at is not None and principal.expires_at <= time.time():
        return None
    return principal
