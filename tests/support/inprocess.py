"""The gateway app in the test's own process, against the test's real redis-server: API behaviour
in milliseconds. HTTP goes through httpx's ASGI transport (with the app's lifespan run by
asgi-lifespan); WebSockets through Starlette's TestClient, which runs the app in a thread.

Clients come logged in as the admin (ADMIN_USER / ADMIN_PASSWORD, made on the app's first start),
and send the gateway's own Origin, as the dashboard does; `login=False` gives an anonymous one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.app import create_app
from shared.cameras import Camera, CameraFile
from shared.settings import Settings

CAMERAS = CameraFile(cameras=[
    Camera(id=1, name="Front Door Camera", location="Front Door", channel=101, source=SecretStr("demo:front")),
    Camera(id=2, name="Garage Camera", location="Garage", channel=301, source=SecretStr("demo:garage")),
])  # fmt: skip
ADMIN_USER = "admin"
ADMIN_PASSWORD = "test-admin-Passw0rd"
BASE = "http://localhost"


def settings(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"redis_url": SecretStr(redis_url), "webrtc_hosts": "127.0.0.1",
                              "admin_password": SecretStr(ADMIN_PASSWORD), "allowed_hosts": "localhost,testserver",
                              **overrides}  # fmt: skip
    return Settings(**values)


@asynccontextmanager
async def api(
    redis_url: str, cameras: CameraFile = CAMERAS, login: bool = True, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client of a gateway app running in this event loop."""
    app = create_app(settings(redis_url, **overrides), cameras)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers={"Origin": BASE}) as client:
            if login:
                reply = await client.post("/api/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD})
                reply.raise_for_status()
            yield client


@contextmanager
def sockets(
    redis_url: str, cameras: CameraFile = CAMERAS, login: bool = True, **overrides: Any
) -> Iterator[TestClient]:
    """A TestClient (HTTP and WebSockets) of a gateway app running in a thread of this process."""
    app = create_app(settings(redis_url, **overrides), cameras)
    # Starlette's TestClient opens WebSockets at ws://testserver, whatever its base URL.
    with TestClient(app, base_url="http://testserver", headers={"Origin": "http://testserver"}) as client:
        if login:
            client.post("/api/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}).raise_for_status()
        yield client
