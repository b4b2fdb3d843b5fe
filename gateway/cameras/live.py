"""The gateway's per-camera parts, kept in step with the cameras in the database.

At start, and whenever the cameras' revision moves (shared.db.watch), each camera gets its
shared readers (gateway.bus.hubs), its two transcoded feeds (plain and with the overlay), and for an
RTSP camera its passthrough feed and audio. A camera deleted, disabled or given another source
loses them: its viewers' sessions end cleanly (the peer connection closes) and, if it is still
there, it gets fresh ones. Any other change (a name, the fps) leaves viewers as they are.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.bus.hubs import Hubs
from gateway.bus.store import Store
from gateway.webrtc.audio import CameraAudio
from gateway.webrtc.feed import CameraFeed
from gateway.webrtc.passthrough import PassthroughFeed
from gateway.webrtc.sessions import Sessions
from gateway.webrtc.streams import CameraStreams, Streams
from shared.cameras import Camera, CameraFile, SourceKind
from shared.db.cameras import revision
from shared.db.engine import connect
from shared.db.watch import follow_cameras
from shared.secret_box import SecretBox

log = logging.getLogger(__name__)


def _stream_of(camera: Camera) -> tuple[object, ...]:
    """What a viewer's stream depends on: a change here ends the camera's sessions."""
    return (camera.enabled, camera.source.get_secret_value(), camera.detect_source, camera.audio)


class LiveCameras:
    def __init__(self, store: Store, hubs: Hubs, sessions: Sessions) -> None:
        self.store = store
        self.hubs = hubs
        self.sessions = sessions
        self.streams: Streams = sessions.streams  # this object alone adds and removes them
        self.cameras = CameraFile.model_construct(cameras=[])

    async def apply(self, cameras: list[Camera]) -> None:
        old = {c.id: c for c in self.cameras.cameras}
        new = {c.id: c for c in cameras}
        for camera_id, camera in old.items():
            if camera_id not in new or _stream_of(new[camera_id]) != _stream_of(camera):
                await self._remove(camera_id, "deleted" if camera_id not in new else "changed")
        for camera_id, camera in new.items():
            streams = self.streams.get(camera_id) or self._add(camera)
            streams.plain.fps = streams.overlay.fps = camera.fps
        self.cameras = CameraFile.model_construct(cameras=cameras)

    def _add(self, camera: Camera) -> CameraStreams:
        relayed = camera.enabled and camera.source_kind is SourceKind.RTSP
        self.hubs.add_camera(camera.id, relayed, relayed and camera.audio)
        plain, overlay = (CameraFeed(camera.id, self.hubs.frames[camera.id], self.store, drawn, fps=camera.fps)
                          for drawn in (False, True))  # fmt: skip
        streams = CameraStreams(plain, overlay)
        if relayed:
            streams.passthrough = PassthroughFeed(camera.id, self.hubs.packets[camera.id])
        if relayed and camera.audio:
            streams.audio = CameraAudio(
                camera.id, self.hubs.audio[camera.id], functools.partial(self.store.latest_audio, camera.id)
            )
        self.streams.add(camera.id, streams)
        return streams

    async def _remove(self, camera_id: int, why: str) -> None:
        for session in [s for s in self.sessions.sessions.values() if s.camera_id == camera_id]:
            await self.sessions.close(session.id, f"camera {why}")
        streams = self.streams.remove(camera_id)
        if streams is not None:
            await streams.close()
        await self.hubs.remove_camera(camera_id)
        log.info("camera=%d %s: its feeds and sessions closed", camera_id, why)

    async def follow(
        self, engine: AsyncEngine, box: SecretBox, applied: Callable[[CameraFile], Awaitable[None]], wake: asyncio.Event
    ) -> asyncio.Task[None]:
        """A task applying every change of the cameras from now on (those given to apply() are the
        gateway's at start), then telling `applied`; `wake` set: look now."""

        async def changed(cameras: list[Camera]) -> None:
            await self.apply(cameras)
            await applied(self.cameras)

        async with connect(engine) as connection:
            started = await revision(connection)
        return asyncio.create_task(follow_cameras(engine, box, changed, lambda: False, started, wake), name="cameras")

    async def close(self) -> None:
        for camera_id in list(self.hubs.frames):
            await self._remove(camera_id, "closing")
