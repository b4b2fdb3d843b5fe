"""Logging in and out, who am I, changing one's password, and API tokens."""

from __future__ import annotations

import time
from typing import NoReturn

from fastapi import APIRouter, HTTPException, Request, Response

from gateway.auth import passwords
from gateway.auth.credentials import digest, new_token_secret
from gateway.auth.deps import PrincipalDep, SignedIn, client_of
from gateway.auth.guard import session_cookie
from gateway.auth.models import LoginIn, MeOut, PasswordChange, TokenCreated, TokenIn, TokenOut
from gateway.state import Gateway, GatewayDep

# Open: the Guard lets POST /api/auth/login through without credentials (and nothing else here).
login_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"], dependencies=[SignedIn])

WRONG = "wrong user name or password"
# Password checks under way at once for logins from unknown devices: past it they are refused at
# once (429), so a flood from many addresses cannot queue real users behind it; each check is an
# Argon2 hash of about 60 ms on one of two threads.
MAX_CHECKING = 8


def _cookie(secret: str, request: Request, gateway: Gateway) -> str:
    return session_cookie(secret, request.scope, round(gateway.auth.session_s)).decode()


@login_router.post(
    "/api/auth/login", response_model=MeOut,
    responses={401: {"description": WRONG}, 429: {"description": "Too many failed logins; see Retry-After"}},
)  # fmt: skip
async def login(body: LoginIn, request: Request, response: Response, gateway: GatewayDep) -> MeOut:
    """Log in: sets the session cookie `camstream_session` (and `camstream_device`, which lets this
    browser log in while its name is locked by others' wrong guesses) and answers who you are."""
    client, name = client_of(request), body.username.lower()
    device = gateway.devices.device(request.headers.get("cookie", ""), name)
    keys = (f"device:{device}",) if device else (f"user:{name}", f"client:{client}")
    if device is None and gateway.limiter.checking >= MAX_CHECKING:
        _refuse_for(1, "too many logins at once")
    wait = gateway.limiter.begin(*keys)
    if wait is not None:
        _refuse_for(wait, "too many failed logins")
    gateway.limiter.checking += 1
    try:
        user = await gateway.accounts.user(body.username)
        right = await passwords.verify_async(user.password_hash if user else None, body.password)
    finally:
        gateway.limiter.checking -= 1
    if not right or user is None:
        await gateway.accounts.record("login_failed", None, body.username[:64], client)
        raise HTTPException(status_code=401, detail=WRONG)
    gateway.limiter.succeeded(*keys, cleared=tuple(k for k in keys if not k.startswith("client:")))
    secret, principal = await gateway.auth.start_session(user, client)
    await gateway.accounts.record("login", user.name, None, client)
    response.headers.append("set-cookie", _cookie(secret, request, gateway))
    response.headers.append("set-cookie", gateway.devices.new_cookie(name, request.scope).decode())
    return MeOut(username=user.name, role=user.role, via="session", expires_at=principal.expires_at)


def _refuse_for(wait: int, why: str) -> NoReturn:
    raise HTTPException(status_code=429, detail=f"{why}; try again in {wait} s", headers={"Retry-After": str(wait)})


@router.post("/api/auth/logout", status_code=204)
async def logout(request: Request, principal: PrincipalDep, gateway: GatewayDep) -> Response:
    """End this session (with a token: nothing to end; revoke the token instead)."""
    if principal.via == "session":
        await gateway.accounts.delete_session(principal.credential)
        gateway.auth.forget(credential=principal.credential)
        await gateway.accounts.record("logout", principal.name, None, client_of(request))
    response = Response(status_code=204)
    response.headers.append("set-cookie", session_cookie("", request.scope, 0).decode())
    return response


@router.get("/api/auth/me", response_model=MeOut)
async def me(principal: PrincipalDep) -> MeOut:
    """Who this request acts as, and with which role."""
    return MeOut(username=principal.name, role=principal.role, via=principal.via, expires_at=principal.expires_at)


@router.post(
    "/api/auth/password",
    status_code=204,
    responses={
        403: {"description": "Wrong current password"},
        429: {"description": "Too many wrong current passwords; see Retry-After"},
    },
)
async def change_password(body: PasswordChange, request: Request, principal: PrincipalDep,
                          gateway: GatewayDep) -> Response:  # fmt: skip
    """Change your own password. Every session of yours ends and every token of yours is revoked; this
    session goes on with a new cookie."""
    key = f"password:{principal.user_id}"  # guesses at the current password, however many sessions ask
    wait = gateway.limiter.begin(key)
    if wait is not None:
        _refuse_for(wait, "too many wrong current passwords")
    user = await gateway.accounts.user_by_id(principal.user_id)
    if user is None or not await passwords.verify_async(user.password_hash, body.current_password):
        raise HTTPException(status_code=403, detail="the current password is wrong")
    gateway.limiter.succeeded(key, cleared=(key,))
    check_strength(body.new_password)
    await gateway.accounts.set_password(user.id, await passwords.hash_async(body.new_password))
    gateway.auth.forget(user_id=user.id)
    await gateway.accounts.record("password_change", user.name, user.name, client_of(request))
    response = Response(status_code=204)
    if principal.via == "session":
        secret, _ = await gateway.auth.start_session(user, client_of(request))
        response.headers.append("set-cookie", _cookie(secret, request, gateway))
    return response


def check_strength(password: str) -> None:
    try:
        passwords.check_strength(password)
    except passwords.WeakPassword as e:
        raise HTTPException(status_code=422, detail=str(e)) from None


@router.post("/api/auth/tokens", status_code=201, response_model=TokenCreated,
             responses={403: {"description": "A role higher than yours"}})  # fmt: skip
async def create_token(body: TokenIn, request: Request, principal: PrincipalDep, gateway: GatewayDep) -> TokenCreated:
    """A token for a program, answered this once (only its digest is kept): `Authorization: Bearer <token>`."""
    role = body.role or principal.role
    if role.rank > principal.role.rank:
        raise HTTPException(status_code=403, detail=f"a {principal.role} cannot make a {role} token")
    token_id, secret = new_token_secret()
    expires_at = time.time() + body.expires_days * 86400
    token = await gateway.accounts.add_token(token_id, principal.user_id, body.name, role, digest(secret), expires_at)
    await gateway.accounts.record("token_create", principal.name, f"{token.id} {token.name}", client_of(request),
                                  {"role": str(role)})  # fmt: skip
    return TokenCreated(**TokenOut.of(token).model_dump(), token=secret)


@router.get("/api/auth/tokens", response_model=list[TokenOut])
async def list_tokens(principal: PrincipalDep, gateway: GatewayDep) -> list[TokenOut]:
    """Your tokens (an admin's answer holds everyone's). Never the secrets."""
    tokens = await gateway.accounts.list_tokens(None if principal.is_admin else principal.user_id)
    return [TokenOut.of(t) for t in tokens]


@router.delete("/api/auth/tokens/{token_id}", status_code=204, responses={404: {"description": "No such token"}})
async def revoke_token(token_id: str, request: Request, principal: PrincipalDep, gateway: GatewayDep) -> Response:
    """Revoke a token (yours; an admin may revoke anyone's): it stops working at once."""
    token = await gateway.accounts.delete_token(token_id[:16], None if principal.is_admin else principal.user_id)
    if token is None:
        raise HTTPException(status_code=404, detail="no such token")
    gateway.auth.forget(credential=token.id)
    await gateway.accounts.record("token_revoke", principal.name, f"{token.id} {token.name}", client_of(request))
    return Response(status_code=204)
