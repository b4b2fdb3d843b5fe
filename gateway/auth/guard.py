"""The one door every request goes through: Host check, Origin check, authentication, security
headers. Pure ASGI, so it covers routes, mounts (static files, docs) and WebSockets alike.

Open without credentials: OPEN_PATHS (health checks, the login page and its assets, the login
call) and /metrics when CAMSTREAM_METRICS_PUBLIC is set. Everything else needs a session cookie
or a bearer token: HTTP answers 401 (pages redirect to the login page), a WebSocket is accepted
and closed with 4401, so that the client gets the reason.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, urlsplit

from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth.credentials import SESSION_COOKIE, Authenticator, Principal
from gateway.auth.hosts import allowed_hosts, host_name, same_origin
from shared.db.engine import DatabaseUnavailable
from shared.settings import Settings

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/login", "/api/auth/login", "/static/login.js", "/static/login.css"})
PAGES = frozenset({"/", "/player", "/docs"})  # a browser without a session is sent to the login page
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Only the gateway's own scripts and styles; pictures may be data:/blob: URLs; no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
]


# Over HTTPS, browsers are told to use nothing else for this host for a year (no subdomains: the
# gateway does not speak for its neighbours).
HSTS = [(b"strict-transport-security", b"max-age=31536000")]


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = allowed_hosts(settings.allowed_hosts)
        self.trusted_origins = frozenset(settings.cors_origins)
        self.open_paths = OPEN_PATHS | ({"/metrics"} if settings.metrics_public else frozenset())
        self.session_s = round(settings.session_hours * 3600)

    def _foreign(self, scope: Scope, headers: Headers) -> tuple[int, str] | None:
        """A refusal for a Host that is not ours, or a state-changing request or WebSocket from another origin."""
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            return 400, "unknown Host name; add it to CAMSTREAM_ALLOWED_HOSTS"
        origin = headers.get("origin")
        unsafe = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        if unsafe and origin is not None and not same_origin(origin, scope["scheme"], host, self.trusted_origins):
            return 403, "cross-origin request refused"
        return None

    def _unvouched(self, scope: Scope, headers: Headers, principal: Principal) -> bool:
        """A state-changing request made with the cookie, with neither Origin nor a Referer of ours.
        (A browser sends Origin on every cross-site POST; scripts use a bearer token.)"""
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or principal.via != "session":
            return False
        if headers.get("origin") is not None:
            return False  # checked in _foreign
        parts = urlsplit(headers.get("referer", ""))
        referer = f"{parts.scheme}://{parts.netloc}"
        return not same_origin(referer, scope["scheme"], headers.get("host", ""), self.trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        if not websocket:
            send = _with_headers(send, SECURITY_HEADERS + (HSTS if scope["scheme"] == "https" else []))
        headers = Headers(scope=scope)
        refusal = self._foreign(scope, headers)
        if refusal is not None:
            await _refuse(scope, receive, send, *refusal)
            return
        if scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        auth: Authenticator = scope["state"]["gateway"].auth
        try:
            principal, cookie = await _principal(headers, auth)
        except (SQLAlchemyError, DatabaseUnavailable) as e:
            log.warning("cannot check credentials on %s: %s", scope["path"], type(e).__name__)
            await _refuse(scope, receive, send, 503, "database unavailable; cannot check credentials")
            return
        if principal is None:
            if not websocket and scope["method"] in ("GET", "HEAD") and scope["path"] in PAGES:
                await _redirect_to_login(scope, send)
            else:
                await _refuse(scope, receive, send, 401, "log in first (POST /api/auth/login), or send a bearer token")
            return
        if self._unvouched(scope, headers, principal):
            await _refuse(scope, receive, send, 403, "request with a session cookie but no Origin or Referer of ours")
            return
        moved = await auth.slide(principal)
        if moved is not None and cookie is not None and not websocket:
            principal = moved
            send = _with_headers(send, [(b"set-cookie", session_cookie(cookie, scope, self.session_s))])
        # In place (the request's own copy of the lifespan state): outer middleware reads the scope after.
        scope["state"] = {**scope["state"], "principal": principal}
        await self.app(scope, receive, send)


def session_cookie(value: str, scope: Scope, max_age: int) -> bytes:
    """The Set-Cookie value: HttpOnly, SameSite=Lax, Secure when served over TLS."""
    secure = "; Secure" if scope["scheme"] in ("https", "wss") else ""
    return f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}".encode()


async def _principal(headers: Headers, auth: Authenticator) -> tuple[Principal | None, str | None]:
    """Who the request is (a bearer token wins over a cookie), and the session cookie if it was that."""
    authorization = headers.get("authorization")
    if authorization is not None:
        kind, _, token = authorization.partition(" ")
        return (await auth.from_bearer(token.strip()) if kind.lower() == "bearer" else None), None
    cookie = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
    return (await auth.from_cookie(cookie), cookie) if cookie else (None, None)


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
    if scope["type"] == "websocket":
        # Accept first: a socket closed before it is accepted reaches the client as a bare HTTP 403.
        if (await receive())["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 4000 + status, "reason": reason[:120]})
        return
    body = json.dumps({"detail": reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="camstream"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect_to_login(scope: Scope, send: Send) -> None:
    target = scope["path"] + (f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else "")
    location = f"/login?next={quote(target, safe='')}".encode()
    await send({"type": "http.response.start", "status": 303,
                "headers": [(b"location", location), (b"content-length", b"0")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b""})
