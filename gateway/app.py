"""The gateway's FastAPI application: `create_app(settings, cameras)`.

The lifespan opens the Redis pool, the database (event history, accounts; the first admin is made
here when there is no user), the shared readers, one feed per camera and the session registry,
and closes them all on shutdown; routes get that state through a typed dependency. Every request
passes gateway.auth.guard.Guard first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway.auth.bootstrap import ensure_admin, leave_for_admin
from gateway.auth.credentials import Authenticator
from gateway.auth.devices import KnownDevices
from gateway.auth.expiry import keep_expiring
from gateway.auth.guard import Guard
from gateway.auth.limiter import LoginLimiter
from gateway.auth.revocation import end_revoked_sessions
from gateway.bus.hubs import Hubs
from gateway.bus.store import Store
from gateway.cameras.file_watch import watch_camera_file
from gateway.cameras.live import LiveCameras
from gateway.cameras.registry import Registry
from gateway.cameras.store import CameraStore
from gateway.faces.enrolment import enrol_demo_person
from gateway.footage import Footage
from gateway.http.limits import BodyLimit
from gateway.http.openapi import document_security
from gateway.http.pagecache import ShortCache
from gateway.metrics import Metrics, RequestTimer
from gateway.routes import (
    accounts,
    auth,
    camera_admin,
    cameras,
    counts,
    events,
    faces,
    health,
    integrations,
    pages,
    recordings,
    webrtc,
    whep,
)
from gateway.state import Gateway
from gateway.webrtc.compat import quiet_failed_connects, use_host_addresses
from gateway.webrtc.sessions import Sessions
from gateway.webrtc.streams import Streams
from shared.cameras import CameraFile, SourceKind, demo_options
from shared.db.accounts import Accounts
from shared.db.counts import RuleCounts
from shared.db.engine import DatabaseUnavailable, reason
from shared.db.events import EventHistory
from shared.db.faces import KnownPeople
from shared.db.integrations import Integrations
from shared.db.recordings import RecordingIndex
from shared.db.startup import open_database
from shared.db.url import database_url
from shared.demo_person import PEOPLE_SCENES
from shared.outbound import OutboundPolicy
from shared.redact import mask_credentials
from shared.redis_client import async_pool_client
from shared.secret_box import load_box
from shared.settings import Settings

log = logging.getLogger(__name__)

# Redis connections for API requests at once, besides one per watched camera and one for events.
# Past it, a request waits up to the Redis timeout for a free one (then 503): no client behaviour
# can open more, so none can starve the feeds.
API_CONNECTIONS = 32
# How long a rendered page of /api/events serves identical requests: a wall of dashboards polling
# costs the database a few queries a second, and an event is still listed well within 200 ms.
PAGE_CACHE_S = 0.1


def redis_pool(settings: Settings, camera_count: int) -> aioredis.Redis:
    return async_pool_client(settings.redis_url_or_local(), settings.redis_timeout_s,
                             API_CONNECTIONS + camera_count + 1)  # fmt: skip


def create_app(settings: Settings, camera_file: CameraFile) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Gateway]]:
        store = Store(redis_pool(settings, len(camera_file.cameras)))
        hubs = Hubs(store, [], settings.mjpeg_max_clients + 2, settings.events_max_clients)
        use_host_addresses([h.strip() for h in settings.webrtc_hosts.split(",") if h.strip()])
        quiet_failed_connects(asyncio.get_running_loop())
        streams = Streams()
        sessions = Sessions(
            streams, ice_servers=settings.webrtc_ice_servers,
            negotiation_timeout_s=settings.webrtc_negotiation_timeout_s, max_pending=settings.webrtc_max_pending,
            max_pending_per_client=settings.webrtc_max_pending_per_client,
            max_per_user=settings.webrtc_max_sessions_per_user,
        )  # fmt: skip
        sessions.start()
        # Each camera's readers and feeds (one persistent feed per camera and overlay choice, encoding
        # only while watched; passthrough and audio for RTSP cameras), kept in step with the database.
        live = LiveCameras(store, hubs, sessions)
        await live.apply(camera_file.cameras)
        engine = await open_database(database_url(settings), settings.database_timeout_s)
        history = EventHistory(engine)
        accounts_store = Accounts(engine)
        generated = await ensure_admin(accounts_store, settings)
        if generated is not None:
            leave_for_admin(settings.data_dir, settings.admin_user, generated)
        expiry = asyncio.create_task(keep_expiring(accounts_store), name="accounts-expiry")
        pages = ShortCache[bytes](PAGE_CACHE_S)
        box = load_box(settings)
        gateway = Gateway(
            settings=settings, cameras=camera_file, store=store, history=history, pages=pages, hubs=hubs,
            streams=streams, sessions=sessions, metrics=metrics, accounts=accounts_store,
            auth=Authenticator(accounts_store, settings.session_hours, settings.session_max_days),
            limiter=LoginLimiter(settings.login_attempts_per_minute),
            recordings=RecordingIndex(engine), camera_store=CameraStore(engine, box), people=KnownPeople(engine),
            integrations=Integrations(engine, box), devices=KnownDevices(box), counts=RuleCounts(engine),
            footage=Footage(settings, engine),
            outbound=OutboundPolicy.of(settings.outbound_deny, settings.outbound_allow),
        )  # fmt: skip

        watcher = await live.follow(engine, box, gateway.use_cameras, gateway.cameras_changed)
        revoked = asyncio.create_task(end_revoked_sessions(gateway.auth, sessions), name="revoked-sessions")
        tasks = [expiry, watcher, revoked]
        if settings.cameras_file is not None:  # edits applied, or refused loudly, while running
            tasks.append(asyncio.create_task(
                watch_camera_file(settings.cameras_file, engine, gateway.cameras_changed.set), name="camera-file"
            ))  # fmt: skip
        scenes = {demo_options(c.source.get_secret_value())[0] for c in camera_file.cameras
                  if c.source_kind is SourceKind.DEMO}  # fmt: skip
        if scenes & set(PEOPLE_SCENES):
            # The demo cameras: the person in their scenes gets a name, once.
            tasks.append(asyncio.create_task(enrol_demo_person(engine, gateway.enroller), name="demo-face"))
        if settings.camera_registry_url:
            gateway.registry = Registry(settings, engine, box, store)
            tasks.append(asyncio.create_task(gateway.registry.run(), name="registry"))
        log_cameras(camera_file)
        try:
            yield {"gateway": gateway}
        finally:
            await _cancel(*tasks)
            await sessions.close_all()
            await live.close()
            await hubs.close()
            await store.close()
            await engine.dispose()
            log.info("gateway stopped")

    return _app(settings, metrics, lifespan)


def _app(settings: Settings, metrics: Metrics, lifespan: Any) -> FastAPI:
    """The FastAPI application: its middleware (outermost last) and routers."""
    app = FastAPI(
        title="camstream gateway",
        version="0.1.0",
        summary="Cameras, live video over WebRTC, detections and events.",
        lifespan=lifespan,
        docs_url=None,  # served below from the gateway itself: nothing from a CDN
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Every request and WebSocket passes the Guard: Host, Origin, credentials, security headers.
    app.add_middleware(Guard, settings=settings)
    app.add_middleware(RequestTimer, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type"],
        )  # fmt: skip
    # Busiest first: a request is matched against the routers in this order (each costs a few µs).
    routers = (cameras.router, events.router, health.router, webrtc.router, whep.router, recordings.router,
               pages.router, auth.login_router, auth.router, accounts.router, camera_admin.router,
               integrations.router, faces.router, faces.admin_router, counts.router)  # fmt: skip
    for router in routers:
        app.include_router(router)
    document_security(app)
    add_error_handlers(app)

    # Swagger UI 5 (it renders OpenAPI 3.1) from the swagger-ui-py package: nothing from a CDN.
    app.mount("/static/docs", StaticFiles(packages=[("swagger_ui", "static")]), name="docs-assets")
    app.mount("/static", StaticFiles(packages=[("gateway", "static")]), name="static")

    return app


async def _cancel(*tasks: asyncio.Task[None]) -> None:
    """Cancel and await: a pass cut short hands its connection back before the engine goes."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def add_error_handlers(app: FastAPI) -> None:
    """Redis or the database away: 503 with a reason (a WebSocket closes with 1011). Anything else: a
    logged 500 that says no more."""

    @app.exception_handler(RedisError)
    async def redis_down(connection: Request, error: RedisError) -> JSONResponse | None:
        # Starlette hands WebSocket errors to the same handler, with the WebSocket: close it.
        log.warning("Redis unavailable on %s: %s", connection.url.path, mask_credentials(str(error)))
        if isinstance(connection, WebSocket):
            await connection.close(code=1011, reason="Redis unavailable; try again shortly")
            return None
        return JSONResponse({"detail": "Redis unavailable; try again shortly"}, status_code=503)

    async def database_down(request: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable on %s: %s", request.url.path, reason(error))
        return JSONResponse({"detail": "database unavailable; try again shortly"}, status_code=503)

    app.add_exception_handler(SQLAlchemyError, database_down)
    app.add_exception_handler(DatabaseUnavailable, database_down)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        return JSONResponse({"detail": "internal error; see the gateway's log"}, status_code=500)


def log_cameras(camera_file: CameraFile) -> None:
    """A start-up summary: each camera, its (masked) source and whether it is analysed."""
    for camera in camera_file.cameras:
        state = "enabled" if camera.enabled else "disabled"
        log.info("camera=%d %s (%s): %s, analysis %s", camera.id, camera.name, state, camera.source_masked,
                 "on" if camera.analysis.enabled else "off")  # fmt: skip
    enabled = sum(c.enabled for c in camera_file.cameras)
    log.info("%d camera(s), %d enabled", len(camera_file.cameras), enabled)
