"""Users and the audit log: for admins only (the router's dependency says so, for every route)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from gateway.auth import passwords
from gateway.auth.deps import AdminOnly, PrincipalDep, client_of
from gateway.auth.models import AuditOut, AuditPage, UserChange, UserIn, UserOut
from gateway.routes.auth import check_strength
from gateway.state import Gateway, GatewayDep
from shared.db.accounts import Role, User, UserExists

router = APIRouter(tags=["users"], dependencies=[AdminOnly])
USER_CHANGE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such user"}, 409: {"description": "The last admin cannot be removed or demoted"},
}  # fmt: skip


async def _user(gateway: Gateway, name: str) -> User:
    user = await gateway.accounts.user(name[:64])
    if user is None:
        raise HTTPException(status_code=404, detail="no such user")
    return user


async def _keep_an_admin(gateway: Gateway, user: User) -> None:
    if user.role is Role.ADMIN and await gateway.accounts.count_admins() <= 1:
        raise HTTPException(status_code=409, detail="the last admin cannot be removed or demoted")


@router.get("/api/users", response_model=list[UserOut])
async def list_users(gateway: GatewayDep) -> list[UserOut]:
    return [UserOut.of(u) for u in await gateway.accounts.list_users()]


@router.post("/api/users", status_code=201, response_model=UserOut, responses={409: {"description": "Name taken"}})
async def add_user(body: UserIn, request: Request, principal: PrincipalDep, gateway: GatewayDep) -> UserOut:
    check_strength(body.password)
    try:
        user = await gateway.accounts.add_user(body.username, body.role, await passwords.hash_async(body.password))
    except UserExists:
        raise HTTPException(status_code=409, detail="a user of that name exists") from None
    assert user is not None
    await gateway.accounts.record("user_add", principal.name, user.name, client_of(request), {"role": str(user.role)})
    return UserOut.of(user)


@router.patch("/api/users/{username}", response_model=UserOut, responses=USER_CHANGE)
async def change_user(
    username: str, body: UserChange, request: Request, principal: PrincipalDep, gateway: GatewayDep
) -> UserOut:
    """Change a user's role or set a new password (which ends all of their sessions and revokes their tokens)."""
    user = await _user(gateway, username)
    client = client_of(request)
    if body.role is not None and body.role is not user.role:
        if body.role is Role.VIEWER:
            await _keep_an_admin(gateway, user)
        await gateway.accounts.set_role(user.id, body.role)
        await gateway.accounts.record("user_role", principal.name, user.name, client, {"role": str(body.role)})
    if body.password is not None:
        check_strength(body.password)
        await gateway.accounts.set_password(user.id, await passwords.hash_async(body.password))
        await gateway.accounts.record("password_reset", principal.name, user.name, client)
    gateway.auth.forget(user_id=user.id)
    changed = await gateway.accounts.user_by_id(user.id)
    if changed is None:
        raise HTTPException(status_code=404, detail="no such user")
    return UserOut.of(changed)


@router.delete("/api/users/{username}", status_code=204, responses=USER_CHANGE)
async def delete_user(username: str, request: Request, principal: PrincipalDep, gateway: GatewayDep) -> Response:
    """Delete a user with their sessions and tokens: they stop working at once."""
    user = await _user(gateway, username)
    await _keep_an_admin(gateway, user)
    await gateway.accounts.delete_user(user.id)
    gateway.auth.forget(user_id=user.id)
    await gateway.accounts.record("user_delete", principal.name, user.name, client_of(request))
    return Response(status_code=204)


@router.get("/api/audit", response_model=AuditPage)
async def audit(
    gateway: GatewayDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="nextBefore of the previous page")] = None,
) -> AuditPage:
    """Logins, failed logins, user, token and camera changes: who, when, from where. Newest first."""
    entries = await gateway.accounts.audit_page(limit, before)
    next_before = entries[-1].seq if len(entries) == limit else None
    return AuditPage(entries=[AuditOut.of(e) for e in entries], next_before=next_before)
