"""The gateway's state for its lifetime: settings, cameras, Redis, sessions. Made in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, HTTPException, Request

from gateway.store import Store
from gateway.webrtc.feed import CameraFeed
from gateway.webrtc.sessions import Sessions
from shared.cameras import Camera, CameraFile
from shared.settings import Settings


@dataclass
class Gateway:
    settings: Settings
    cameras: CameraFile
    client: aioredis.Redis
    store: Store
    started_at_s: float
    feeds: dict[tuple[int, bool], CameraFeed]
    sessions: Sessions
    counters: dict[str, float] = field(default_factory=dict)

    def camera(self, camera_id: int) -> Camera:
        camera = self.cameras.camera(camera_id)
        if camera is None:
            raise HTTPException(status_code=404, detail=f"no camera with id {camera_id}")
        return camera


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
