"""HTTP to a gateway started by a test, as its admin: like httpx's get/post/stream, with an API
token of the gateway's first admin (who logs in once per gateway to make it).

The conftest gives every test's processes CAMSTREAM_ADMIN_PASSWORD = ADMIN_PASSWORD."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.inprocess import ADMIN_PASSWORD, ADMIN_USER

_tokens: dict[str, str] = {}


def _base(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def token(url: str, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> str:
    """An admin token for the gateway at `url` (made on first use)."""
    base = _base(url)
    key = f"{base} {user}"
    if key not in _tokens:
        with httpx.Client(base_url=base, verify=False, timeout=10) as client:
            client.post("/api/auth/login", json={"username": user, "password": password}).raise_for_status()
            made = client.post("/api/auth/tokens", json={"name": "tests"}, headers={"Origin": base})
            made.raise_for_status()
            _tokens[key] = made.json()["token"]
    return _tokens[key]


def headers(url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(url)}"}


def forget(url: str) -> None:
    """The gateway at `url` is gone: its tokens with it."""
    base = _base(url)
    for key in [k for k in _tokens if k.startswith(f"{base} ")]:
        del _tokens[key]


def get(url: str, **options: Any) -> httpx.Response:
    return httpx.get(url, headers={**headers(url), **options.pop("headers", {})}, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return httpx.post(url, headers={**headers(url), **options.pop("headers", {})}, **options)


def stream(method: str, url: str, **options: Any) -> Any:
    return httpx.stream(method, url, headers={**headers(url), **options.pop("headers", {})}, **options)


def client(base: str, **options: Any) -> httpx.AsyncClient:
    """An async client of the gateway at `base`, as its admin."""
    return httpx.AsyncClient(base_url=base, headers=headers(base), **options)
