"""The gateway's FastAPI application: `create_app(settings, cameras)`.

The lifespan opens the Redis pool (and, with WebRTC, every peer connection and source)
and closes them on shutdown; routes get that state through a typed dependency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError

from gateway.limits import BodyLimit
from gateway.routes import cameras, events, health, pages, webrtc
from gateway.state import Gateway
from gateway.store import Store
from gateway.webrtc.feed import CameraFeed
from gateway.webrtc.sessions import Sessions, use_host_addresses
from shared.cameras import CameraFile
from shared.redact import mask_credentials
from shared.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings, camera_file: CameraFile) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Gateway]]:
        client = aioredis.Redis.from_url(
            settings.redis_url_or_local(), socket_timeout=settings.redis_timeout_s * 5,
            socket_connect_timeout=settings.redis_timeout_s,
        )  # fmt: skip
        store = Store(client)
        use_host_addresses([h.strip() for h in settings.webrtc_hosts.split(",") if h.strip()])
        # One persistent source per camera (and overlay choice); each encodes only while watched.
        feeds = {
            (c.id, overlay): CameraFeed(c.id, store, overlay, fps=c.fps)
            for c in camera_file.cameras
            for overlay in (False, True)
        }
        sessions = Sessions(feeds, settings.webrtc_ice_servers, settings.webrtc_negotiation_timeout_s)
        sessions.start()
        gateway = Gateway(settings, camera_file, client, store, time.time(), feeds, sessions)
        log_cameras(camera_file)
        try:
            yield {"gateway": gateway}
        finally:
            await sessions.close_all()
            for feed in feeds.values():
                await feed.close()
            await client.aclose()
            log.info("gateway stopped")

    app = FastAPI(
        title="camstream gateway",
        version="0.1.0",
        summary="Cameras, live video over WebRTC, detections and events.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"], allow_headers=["*"]
        )
    for router in (cameras.router, events.router, health.router, webrtc.router, pages.router):
        app.include_router(router)

    app.mount("/static", StaticFiles(packages=[("gateway", "static")]), name="static")

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, error: RedisError) -> JSONResponse:
        log.warning("Redis unavailable on %s %s: %s", request.method, request.url.path, error)
        return JSONResponse({"detail": f"Redis unavailable: {mask_credentials(str(error))}"}, status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        return JSONResponse({"detail": "internal error; see the gateway's log"}, status_code=500)

    return app


def log_cameras(camera_file: CameraFile) -> None:
    """A start-up summary: each camera, its (masked) source and whether it is analysed."""
    for camera in camera_file.cameras:
        state = "enabled" if camera.enabled else "disabled"
        log.info("camera=%d %s (%s): %s, analysis %s", camera.id, camera.name, state, camera.source_masked,
                 "on" if camera.analysis.enabled else "off")  # fmt: skip
    enabled = sum(c.enabled for c in camera_file.cameras)
    log.info("%d camera(s), %d enabled", len(camera_file.cameras), enabled)
