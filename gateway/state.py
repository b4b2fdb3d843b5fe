"""The gateway's state for its lifetime: settings, cameras, the Redis store, the event history
and accounts (database), shared readers, feeds and sessions, metrics, who is logged in. Made in
the lifespan, handed to routes by a typed dependency."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from gateway.auth.credentials import Authenticator
from gateway.auth.devices import KnownDevices
from gateway.auth.limiter import LoginLimiter
from gateway.bus.hubs import Hubs
from gateway.bus.store import Store
from gateway.cameras.probe import Prober
from gateway.cameras.registry import Registry
from gateway.cameras.store import CameraStore
from gateway.faces.enrolment import Enroller
from gateway.footage import Footage
from gateway.http.pagecache import ShortCache
from gateway.metrics import LiveFigures, Metrics
from gateway.webrtc.sessions import Sessions
from gateway.webrtc.streams import Streams
from shared.cameras import Camera, CameraFile
from shared.db.accounts import Accounts
from shared.db.counts import RuleCounts
from shared.db.events import EventHistory
from shared.db.faces import KnownPeople
from shared.db.integrations import Integrations
from shared.db.recordings import RecordingIndex
from shared.outbound import OutboundPolicy
from shared.settings import Settings

APPLY_WAIT_S = 2.0


@dataclass
class Gateway:
    settings: Settings
    cameras: CameraFile
    store: Store
    history: EventHistory
    pages: ShortCache[bytes]  # rendered pages of /api/events
    hubs: Hubs
    streams: Streams  # each camera's live feeds (gateway.cameras.live keeps them)
    sessions: Sessions
    metrics: Metrics
    accounts: Accounts
    auth: Authenticator
    limiter: LoginLimiter
    recordings: RecordingIndex
    camera_store: CameraStore
    people: KnownPeople  # enrolled faces
    integrations: Integrations  # webhooks and notification targets
    devices: KnownDevices  # the login's device cookies
    counts: RuleCounts  # the rules' events counted (GET /api/counts)
    footage: Footage  # where each segment's file is read (this disk or another host's recorder)
    prober: Prober = field(default_factory=Prober)
    enroller: Enroller = field(default_factory=Enroller)
    registry: Registry | None = None
    # Where webhooks, notification servers and the probe may connect (set from the settings at start).
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy.of)
    clip_maker: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    cameras_changed: asyncio.Event = field(default_factory=asyncio.Event)  # wakes the camera follower
    _cameras_set: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def use_cameras(self, cameras: CameraFile) -> None:
        """The camera follower applied a change: routes see these cameras from now on."""
        async with self._cameras_set:
            self.cameras = cameras
            self._cameras_set.notify_all()

    async def applied(self, camera_id: int, wanted: Camera | None) -> None:
        """After a change through the API: wake the camera follower and wait (at most APPLY_WAIT_S)
        until this gateway has applied it, so the client's next request already sees it. Other
        gateways follow within their poll (shared.db.watch)."""
        self.cameras_changed.set()
        async with self._cameras_set:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._cameras_set.wait_for(lambda: self.cameras.camera(camera_id) == wanted), APPLY_WAIT_S
                )

    def live_figures(self) -> LiveFigures:
        """The gateway's own numbers now, for the metrics."""
        sessions = self.sessions.sessions
        return LiveFigures(
            camera_ids=[c.id for c in self.cameras.cameras],
            sessions_open=len(sessions),
            sessions_refused=self.sessions.refused,
            frames_sent=sum(s.track.frames_sent for s in sessions.values()),
            feeds={
                (camera_id, overlay): streams.feed(overlay).stats
                for camera_id, streams in self.streams.items()
                for overlay in (False, True)
            },
            audio={
                camera_id: streams.audio.stats
                for camera_id, streams in self.streams.items()
                if streams.audio is not None
            },
            frame_listeners={camera_id: len(frames.listeners) for camera_id, frames in self.hubs.frames.items()},
            event_listeners=len(self.hubs.events.listeners),
            frames_bad=dict(self.hubs.frames_bad),
        )

    def camera(self, camera_id: int) -> Camera:
        camera = self.cameras.camera(camera_id)
        if camera is None:
            raise HTTPException(status_code=404, detail=f"no camera with id {camera_id}")
        return camera


def gateway_of(connection: HTTPConnection) -> Gateway:
    gateway: Gateway = connection.state.gateway
    return gateway


async def get_gateway(request: Request) -> Gateway:
    """A coroutine, because FastAPI runs a plain `def` dependency in its thread pool: a thread hop
    on every request."""
    return gateway_of(request)


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
