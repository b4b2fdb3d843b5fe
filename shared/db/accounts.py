"""Users, browser sessions, API tokens and the audit log in the database.

This layer stores what it is given: password hashes (Argon2id, made by gateway.auth.passwords)
and SHA-256 digests of session and token secrets. No secret is ever stored or returned here.
Raises SQLAlchemyError or DatabaseUnavailable when the database fails or cannot be reached.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.engine import connect
from shared.db.schema import api_tokens, audit, sessions, users


class Role(StrEnum):
    VIEWER = "viewer"  # live video, snapshots, MJPEG, events, recordings
    ADMIN = "admin"  # everything: cameras, users, settings

    @property
    def rank(self) -> int:
        return 0 if self is Role.VIEWER else 1

    def at_most(self, other: Role) -> Role:
        return self if self.rank <= other.rank else other


class UserExists(Exception):
    pass


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    password_hash: str
    created_at: float
    password_changed_at: float


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    user_id: int
    user_name: str
    name: str
    role: Role
    created_at: float
    last_used_at: float | None
    secret_hash: str  # SHA-256 of the token; never shown
    expires_at: float | None = None  # None: a token made before tokens expired (migration 0007 gave them a year)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: float
    actor: str | None
    action: str
    target: str | None
    client: str | None
    detail: dict[str, Any] | None


def _user(row: Row[Any]) -> User:
    return User(row.id, row.name, Role(row.role), row.password_hash, row.created_at, row.password_changed_at)


def _token(row: Row[Any]) -> Token:
    return Token(
        row.id,
        row.user_id,
        row.user_name,
        row.name,
        Role(row.role),
        row.created_at,
        row.last_used_at,
        row.secret_hash,
        row.expires_at,
    )


_TOKEN_COLUMNS = [*api_tokens.c, users.c.name.label("user_name")]


class Accounts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def _connect(self, write: bool = False) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        return connect(self.engine, write)

    # Users

    async def count_users(self) -> int:
        async with self._connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(users)) or 0)

    async def add_user(self, name: str, role: Role, password_hash: str, only_if_none: bool = False) -> User | None:
        """The new user. Raises UserExists. With `only_if_none`, adds it only to a table with no user
        at all and returns None otherwise (the first admin, made by whichever process starts first)."""
        now = time.time()
        try:
            async with self._connect(write=True) as connection:
                if only_if_none and await connection.scalar(select(func.count()).select_from(users)):
                    return None
                await connection.execute(users.insert().values(
                    name=name, role=str(role), password_hash=password_hash, created_at=now, password_changed_at=now
                ))  # fmt: skip
                row = (await connection.execute(select(users).where(users.c.name == name))).one()
        except IntegrityError:
            if only_if_none:
                return None
            raise UserExists(name) from None
        return _user(row)

    async def user(self, name: str) -> User | None:
        async with self._connect() as connection:
            row = (await connection.execute(select(users).where(users.c.name == name))).first()
        return _user(row) if row is not None else None

    async def user_by_id(self, user_id: int) -> User | None:
        async with self._connect() as connection:
            row = (await connection.execute(select(users).where(users.c.id == user_id))).first()
        return _user(row) if row is not None else None

    async def list_users(self) -> list[User]:
        async with self._connect() as connection:
            rows = (await connection.execute(select(users).order_by(users.c.name))).all()
        return [_user(r) for r in rows]

    async def set_password(self, user_id: int, password_hash: str) -> bool:
        """Change the hash and end every session and revoke every token of the user (whoever knew the
        old password may have made some). False: no such user."""
        async with self._connect(write=True) as connection:
            result = await connection.execute(
                update(users).where(users.c.id == user_id)
                .values(password_hash=password_hash, password_changed_at=time.time())
            )  # fmt: skip
            await connection.execute(delete(sessions).where(sessions.c.user_id == user_id))
            await connection.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id))
        return bool(result.rowcount)

    async def set_role(self, user_id: int, role: Role) -> bool:
        async with self._connect(write=True) as connection:
            result = await connection.execute(update(users).where(users.c.id == user_id).values(role=str(role)))
        return bool(result.rowcount)

    async def delete_user(self, user_id: int) -> bool:
        """Delete the user, their sessions and their tokens."""
        async with self._connect(write=True) as connection:
            await connection.execute(delete(sessions).where(sessions.c.user_id == user_id))
            await connection.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id))
            result = await connection.execute(delete(users).where(users.c.id == user_id))
        return bool(result.rowcount)

    async def count_admins(self) -> int:
        async with self._connect() as connection:
            query = select(func.count()).select_from(users).where(users.c.role == str(Role.ADMIN))
            return int(await connection.scalar(query) or 0)

    # Sessions

    async def add_session(self, id_hash: str, user_id: int, expires_at: float, client: str | None) -> None:
        async with self._connect(write=True) as connection:
            await connection.execute(sessions.insert().values(
                id_hash=id_hash, user_id=user_id, created_at=time.time(), expires_at=expires_at, client=client
            ))  # fmt: skip

    async def session(self, id_hash: str, now: float) -> tuple[User, float] | None:
        """The user of a live session and when it expires."""
        query = (
            select(users, sessions.c.expires_at).join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.id_hash == id_hash, sessions.c.expires_at > now)
        )  # fmt: skip
        async with self._connect() as connection:
            row = (await connection.execute(query)).first()
        return (_user(row), row.expires_at) if row is not None else None

    async def extend_session(self, id_hash: str, expires_at: float, max_age_s: float) -> float | None:
        """Move a session's end to `expires_at`, but never past `max_age_s` after it began: its end now
        (None: no such session)."""
        latest = sessions.c.created_at + max_age_s
        async with self._connect(write=True) as connection:
            query = update(sessions).where(sessions.c.id_hash == id_hash).values(
                expires_at=case((latest < expires_at, latest), else_=expires_at)
            )  # fmt: skip
            await connection.execute(query)
            found = await connection.scalar(select(sessions.c.expires_at).where(sessions.c.id_hash == id_hash))
        return float(found) if found is not None else None

    async def delete_session(self, id_hash: str) -> None:
        async with self._connect(write=True) as connection:
            await connection.execute(delete(sessions).where(sessions.c.id_hash == id_hash))

    async def delete_expired_sessions(self, now: float) -> int:
        async with self._connect(write=True) as connection:
            result = await connection.execute(delete(sessions).where(sessions.c.expires_at <= now))
        return int(result.rowcount or 0)

    # API tokens

    async def add_token(
        self, token_id: str, user_id: int, name: str, role: Role, secret_hash: str, expires_at: float
    ) -> Token:
        async with self._connect(write=True) as connection:
            await connection.execute(api_tokens.insert().values(
                id=token_id, user_id=user_id, name=name, role=str(role), secret_hash=secret_hash,
                created_at=time.time(), expires_at=expires_at,
            ))  # fmt: skip
            query = select(*_TOKEN_COLUMNS).join(users).where(api_tokens.c.id == token_id)
            row = (await connection.execute(query)).one()
        return _token(row)

    async def token_by_id(self, token_id: str) -> tuple[Token, User] | None:
        """A token that has not expired, and its user; the caller compares the secret's digest (in
        constant time)."""
        query = select(*_TOKEN_COLUMNS, *[c.label(f"u_{c.name}") for c in users.c]).join(users).where(
            api_tokens.c.id == token_id, or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > time.time())
        )  # fmt: skip
        async with self._connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        user = User(row.u_id, row.u_name, Role(row.u_role), row.u_password_hash, row.u_created_at,
                    row.u_password_changed_at)  # fmt: skip
        return _token(row), user

    async def touch_token(self, token_id: str, at: float) -> None:
        async with self._connect(write=True) as connection:
            await connection.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=at))

    async def list_tokens(self, user_id: int | None) -> list[Token]:
        """The tokens of one user, or of everyone (None)."""
        query = select(*_TOKEN_COLUMNS).join(users).order_by(api_tokens.c.created_at)
        if user_id is not None:
            query = query.where(api_tokens.c.user_id == user_id)
        async with self._connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_token(r) for r in rows]

    async def delete_token(self, token_id: str, user_id: int | None) -> Token | None:
        """Revoke a token (of `user_id`, or anyone's when None); the token that went, or None."""
        query = select(*_TOKEN_COLUMNS).join(users).where(api_tokens.c.id == token_id)
        if user_id is not None:
            query = query.where(api_tokens.c.user_id == user_id)
        async with self._connect(write=True) as connection:
            row = (await connection.execute(query)).first()
            if row is None:
                return None
            await connection.execute(delete(api_tokens).where(api_tokens.c.id == token_id))
        return _token(row)

    # Audit

    async def record(
        self, action: str, actor: str | None, target: str | None = None, client: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        async with self._connect(write=True) as connection:
            await connection.execute(audit.insert().values(
                at=time.time(), actor=actor, action=action, target=target, client=client, detail=detail
            ))  # fmt: skip

    async def trim_failed_logins(self, keep: int) -> int:
        """Delete all but the newest `keep` failed-login entries (every other entry stays): guesses
        from many addresses must not grow the audit log without end. The number deleted."""
        failed = audit.c.action == "login_failed"
        async with self._connect(write=True) as connection:
            query = select(audit.c.seq).where(failed).order_by(audit.c.seq.desc()).offset(keep).limit(1)
            oldest_kept = await connection.scalar(query)
            if oldest_kept is None:
                return 0
            result = await connection.execute(delete(audit).where(failed, audit.c.seq <= oldest_kept))
        return int(result.rowcount or 0)

    async def audit_page(self, limit: int, before_seq: int | None) -> list[AuditEntry]:
        """Newest first; pass the last entry's seq as `before_seq` for the next page."""
        query = select(audit).order_by(audit.c.seq.desc()).limit(limit)
        if before_seq is not None:
            query = query.where(audit.c.seq < before_seq)
        async with self._connect() as connection:
            rows = (await connection.execute(query)).all()
        return [AuditEntry(r.seq, r.at, r.actor, r.action, r.target, r.client, r.detail) for r in rows]
