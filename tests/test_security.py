"""Accounts and the Guard, in-process against the test's real Redis and SQLite: every route needs
credentials (walked from the app's own route table), roles, sessions, tokens, login limits,
cross-origin refusals, Host checks and security headers."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from gateway.auth import credentials
from gateway.auth.credentials import CACHE_S
from gateway.auth.deps import admin
from gateway.auth.guard import OPEN_PATHS, PAGES
from tests.support.inprocess import ADMIN_PASSWORD, ADMIN_USER, BASE, CAMERAS, api, settings, sockets

VIEWER = {"username": "vera", "password": "viewer-Passw0rd", "role": "viewer"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _admin_only(route: APIRoute | APIWebSocketRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.call is admin:
            return True
        stack.extend(dependency.dependencies)
    return False


def _routes() -> list[Any]:
    """Every route of the app, with included routers opened up (FastAPI keeps them lazily)."""
    app = create_app(settings("redis://127.0.0.1:1/0"), CAMERAS)
    return [context.original_route for context in iter_route_contexts(app.routes)]


def _credentials(user: dict[str, str]) -> dict[str, str]:
    return {"username": user["username"], "password": user["password"]}


def _beside(http: httpx.AsyncClient) -> httpx.AsyncClient:
    """Another client, without cookies, of the same gateway app."""
    return httpx.AsyncClient(transport=http._transport, base_url=BASE, headers={"Origin": BASE})


async def _viewer_token(http: httpx.AsyncClient) -> str:
    (await http.post("/api/users", json=VIEWER)).raise_for_status()
    async with _beside(http) as other:
        login = await other.post(
            "/api/auth/login", json={"username": VIEWER["username"], "password": VIEWER["password"]}
        )
        login.raise_for_status()
        made = await other.post("/api/auth/tokens", json={"name": "viewer"}, headers={"Origin": BASE})
        made.raise_for_status()
        return str(made.json()["token"])


async def test_every_route_but_the_open_ones_wants_credentials_and_admin_routes_want_an_admin(
    redis_url: str,
) -> None:
    routes = _routes()
    async with api(redis_url) as http, api(redis_url, login=False) as anonymous:
        viewer = {"Authorization": f"Bearer {await _viewer_token(http)}"}
        checked = 0
        for route in routes:
            if isinstance(route, Mount):
                reply = await anonymous.get(f"{route.path}/dashboard.js")
                assert reply.status_code == 401, route.path
                checked += 1
            elif isinstance(route, APIRoute | Route) and not isinstance(route, APIWebSocketRoute):
                for method in sorted(route.methods or {"GET"}):
                    path = _concrete(route.path)
                    reply = await anonymous.request(method, path)
                    if route.path in OPEN_PATHS:
                        assert reply.status_code not in (401, 403), (method, path)
                    elif method in ("GET", "HEAD") and route.path in PAGES:
                        assert reply.status_code == 303 and reply.headers["location"].startswith("/login?next=")
                    else:
                        assert reply.status_code == 401, (method, path, reply.text)
                        assert method == "HEAD" or reply.json()["detail"].startswith("log in first")
                    if isinstance(route, APIRoute) and _admin_only(route):
                        as_viewer = await anonymous.request(method, path, headers=viewer, json={})
                        assert as_viewer.status_code == 403, (method, path, as_viewer.text)
                    checked += 1
        assert checked > 25
        assert {r.path for r in routes if isinstance(r, APIRoute) and _admin_only(r)} >= {
            "/api/users",
            "/api/audit",
            "/api/webhooks",
            "/api/notifications",
        }


def test_websockets_want_credentials_and_our_origin(redis_url: str) -> None:
    with sockets(redis_url, login=False) as client:
        sockets_paths = [_concrete(r.path) for r in _routes() if isinstance(r, APIWebSocketRoute)]
        assert sorted(sockets_paths) == ["/ws/events", "/ws/webrtc/1"]
        for path in sockets_paths:
            with client.websocket_connect(path) as refused, pytest.raises(WebSocketDisconnect) as closed:
                refused.receive_text()
            assert closed.value.code == 4401 and "log in" in closed.value.reason
        client.post("/api/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).raise_for_status()
        foreign = {"Origin": "https://evil.example"}
        with (
            client.websocket_connect("/ws/events", headers=foreign) as refused,
            pytest.raises(WebSocketDisconnect) as c,
        ):
            refused.receive_text()
        assert c.value.code == 4403 and "cross-origin" in c.value.reason
        token = client.post("/api/auth/tokens", json={"name": "socket"}).json()["token"]
        client.cookies.clear()
        bearer = {"Authorization": f"Bearer {token}"}
        with client.websocket_connect("/ws/events", headers=bearer) as live:
            live.send_text("hello")  # accepted: the socket stays open until we leave


async def test_login_me_logout_and_the_cookie(redis_url: str) -> None:
    async with api(redis_url, login=False) as http:
        reply = await http.post("/api/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert reply.status_code == 200 and reply.json()["username"] == ADMIN_USER and reply.json()["role"] == "admin"
        cookie = reply.headers["set-cookie"]
        assert cookie.startswith("camstream_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie and "Max-Age=86400" in cookie  # plain HTTP here; 24 h by default
        assert (await http.get("/api/auth/me")).json()["via"] == "session"
        assert (await http.post("/api/auth/logout")).status_code == 204
        assert (await http.get("/api/auth/me")).status_code == 401


async def test_a_session_expires_and_slides(redis_url: str) -> None:
    async with api(redis_url, session_hours=1.5 / 3600) as http:  # 1.5 s
        assert (await http.get("/api/cameras")).status_code == 200
        await asyncio.sleep(2.0)
        assert (await http.get("/api/cameras")).status_code == 401


async def test_a_session_used_all_the_time_still_ends_at_its_absolute_limit(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(credentials, "SLIDE_EVERY_S", 0.0)  # slide at every request (every 5 minutes in use)
    async with api(redis_url, session_hours=1.5 / 3600, session_max_days=4.0 / 86400) as http:  # 1.5 s idle, 4 s
        statuses = []
        for _ in range(14):  # used every 0.5 s: it slides past its 1.5 s, until 4 s after the login
            statuses.append((await http.get("/api/cameras")).status_code)
            await asyncio.sleep(0.5)
        assert statuses[:6] == [200] * 6 and statuses[-3:] == [401] * 3, statuses


async def test_tokens_expire(redis_url: str) -> None:
    async with api(redis_url) as http, _beside(http) as program:
        made = (await http.post("/api/auth/tokens", json={"name": "short", "expiresDays": 2.0 / 86400})).json()
        assert made["expiresAt"] - time.time() < 3
        bearer = {"Authorization": f"Bearer {made['token']}"}
        assert (await program.get("/api/cameras", headers=bearer)).status_code == 200
        await asyncio.sleep(2.0 + CACHE_S)
        assert (await program.get("/api/cameras", headers=bearer)).status_code == 401
        default = (await http.post("/api/auth/tokens", json={"name": "a year"})).json()
        assert 364 * 86400 < default["expiresAt"] - time.time() <= 365 * 86400


async def test_a_password_change_or_deletion_ends_sessions_and_tokens_at_once(redis_url: str) -> None:
    async with api(redis_url) as http, _beside(http) as other:
        token = await _viewer_token(http)
        login = await other.post(
            "/api/auth/login", json={"username": VIEWER["username"], "password": VIEWER["password"]}
        )
        login.raise_for_status()
        assert (await other.get("/api/cameras")).status_code == 200
        reset = await http.patch(f"/api/users/{VIEWER['username']}", json={"password": "another-Passw0rd"})
        assert reset.status_code == 200
        assert (await other.get("/api/cameras")).status_code == 401  # the session ended
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await other.get("/api/cameras", headers=bearer)).status_code == 401  # its tokens are revoked too
        assert (await http.delete(f"/api/users/{VIEWER['username']}")).status_code == 204
        assert (await http.delete(f"/api/users/{ADMIN_USER}")).status_code == 409  # the last admin stays


async def test_tokens_on_rest_and_metrics_and_revoked_at_once(redis_url: str) -> None:
    async with api(redis_url) as http, _beside(http) as program, api(redis_url, login=False) as second_gateway:
        made = (await http.post("/api/auth/tokens", json={"name": "prometheus", "role": "viewer"})).json()
        assert made["token"].startswith("cst_") and made["role"] == "viewer"
        listed = (await http.get("/api/auth/tokens")).json()
        assert [t["name"] for t in listed] == ["prometheus"] and "token" not in listed[0]
        assert made["token"] not in (await http.get("/api/auth/tokens")).text
        bearer = {"Authorization": f"Bearer {made['token']}"}
        assert (await program.get("/metrics", headers=bearer)).status_code == 200
        assert (await second_gateway.get("/metrics", headers=bearer)).status_code == 200
        assert (await program.get("/api/events", headers=bearer)).status_code == 200
        assert (await program.get("/api/users", headers=bearer)).status_code == 403  # a viewer token
        assert (await program.post("/api/auth/tokens", json={"name": "x", "role": "admin"},
                                   headers=bearer)).status_code == 403  # fmt: skip
        assert (await http.delete(f"/api/auth/tokens/{made['id']}")).status_code == 204
        assert (await program.get("/metrics", headers=bearer)).status_code == 401
        await asyncio.sleep(CACHE_S)  # another gateway (process) forgets what it knew within a second
        assert (await second_gateway.get("/metrics", headers=bearer)).status_code == 401
        wrong = {"Authorization": f"Bearer {made['token'][:-2]}xx"}
        assert (await program.get("/api/cameras", headers=wrong)).status_code == 401
    async with api(redis_url, login=False, metrics_public=True) as open_metrics:
        assert (await open_metrics.get("/metrics")).status_code == 200


async def test_six_wrong_passwords_in_a_minute_give_429_and_names_are_not_told(redis_url: str) -> None:
    async with api(redis_url, login=False) as http:
        unknown = await http.post("/api/auth/login", json={"username": "nobody", "password": "x" * 12})
        wrong = await http.post("/api/auth/login", json={"username": ADMIN_USER, "password": "x" * 12})
        assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json()) == (
            401, {"detail": "wrong user name or password"})  # fmt: skip
        for _ in range(3):
            assert (
                await http.post("/api/auth/login", json={"username": ADMIN_USER, "password": "y"})
            ).status_code == 401
        limited = await http.post("/api/auth/login", json={"username": ADMIN_USER, "password": "z"})
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        right = await http.post("/api/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
        assert right.status_code == 429  # even the right password: the answer tells a guesser nothing
        audit = await _audit(redis_url)
        assert [e["action"] for e in audit].count("login_failed") == 5


async def _audit(redis_url: str) -> list[dict[str, Any]]:
    async with api(redis_url) as http:  # the same test database: another gateway app, logged in afresh
        entries: list[dict[str, Any]] = (await http.get("/api/audit")).json()["entries"]
        return entries


async def test_cross_origin_and_cookie_requests_without_origin_are_refused(redis_url: str) -> None:
    async with api(redis_url) as http:
        offer = "v=0\r\n"
        crossed = await http.post("/api/webrtc/offer", content=offer, headers={"Origin": "https://evil.example",
                                                                             "Content-Type": "text/plain"})  # fmt: skip
        assert crossed.status_code == 403 and crossed.json()["detail"] == "cross-origin request refused"
        bare = await http.post("/api/auth/tokens", json={"name": "x"}, headers={"Origin": ""})
        del http.headers["Origin"]
        bare = await http.post("/api/auth/tokens", json={"name": "x"})
        assert bare.status_code == 403 and "no Origin or Referer" in bare.json()["detail"]
        referred = await http.post("/api/auth/tokens", json={"name": "x"}, headers={"Referer": f"{BASE}/"})
        assert referred.status_code == 201
        token = referred.json()["token"]
        scripted = await http.post("/api/auth/tokens", json={"name": "y"},
                                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert scripted.status_code == 201  # a bearer token is not sent by a browser on its own: no Origin needed


async def test_headers_on_every_answer_and_unknown_hosts_refused(redis_url: str) -> None:
    async with api(redis_url, login=False) as http:
        for path in ("/healthz", "/api/cameras", "/login", "/static/login.js"):
            headers = (await http.get(path)).headers
            assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        rebound = await http.get("/healthz", headers={"Host": "attacker.example"})
        assert rebound.status_code == 400 and "CAMSTREAM_ALLOWED_HOSTS" in rebound.json()["detail"]
    async with api(redis_url, login=False, allowed_hosts="*") as anything:
        assert (await anything.get("/healthz", headers={"Host": "attacker.example"})).status_code == 200


def test_the_openapi_schema_says_how_to_authenticate(redis_url: str) -> None:
    with TestClient(create_app(settings(redis_url), CAMERAS), base_url="http://testserver") as client:
        assert client.get("/openapi.json").status_code == 401
        client.post("/api/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).raise_for_status()
        document = client.get("/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"session", "token"}
    assert document["paths"]["/api/auth/login"]["post"]["security"] == []
    assert "security" not in document["paths"]["/api/cameras"]["get"]  # the document-wide requirement applies
