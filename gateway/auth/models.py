"""Request and response bodies of the account API (camelCase JSON, as the rest of the API)."""

from __future__ import annotations

from pydantic import Field

from gateway.models import ApiModel
from shared.db.accounts import AuditEntry, Role, Token, User

NAME = r"^[A-Za-z0-9_.@-]{1,64}$"


class LoginIn(ApiModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class MeOut(ApiModel):
    username: str
    role: Role
    via: str  # "session" or "token"
    expires_at: float | None = None  # a session's, Unix time


class PasswordChange(ApiModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TokenIn(ApiModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role | None = None  # default: the caller's role; never higher
    expires_days: float = Field(default=365, gt=0, le=3650, description="The token is refused from then on.")


class TokenOut(ApiModel):
    id: str
    name: str
    role: Role
    username: str
    created_at: float
    last_used_at: float | None
    expires_at: float | None

    @classmethod
    def of(cls, token: Token) -> TokenOut:
        return cls(id=token.id, name=token.name, role=token.role, username=token.user_name,
                   created_at=token.created_at, last_used_at=token.last_used_at,
                   expires_at=token.expires_at)  # fmt: skip


class TokenCreated(TokenOut):
    token: str  # shown this once: send it as "Authorization: Bearer <token>"


class UserIn(ApiModel):
    username: str = Field(pattern=NAME)
    password: str = Field(max_length=1024)
    role: Role = Role.VIEWER


class UserChange(ApiModel):
    role: Role | None = None
    password: str | None = Field(default=None, max_length=1024)


class UserOut(ApiModel):
    id: int
    username: str
    role: Role
    created_at: float
    password_changed_at: float

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, username=user.name, role=user.role, created_at=user.created_at,
                   password_changed_at=user.password_changed_at)  # fmt: skip


class AuditOut(ApiModel):
    seq: int
    at: float
    actor: str | None
    action: str
    target: str | None
    client: str | None
    detail: dict[str, object] | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action, target=entry.target,
                   client=entry.client, detail=entry.detail)  # fmt: skip


class AuditPage(ApiModel):
    entries: list[AuditOut]
    next_before: int | None  # pass as ?before= for older entries
