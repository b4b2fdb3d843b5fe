"""Each camera's live streams, in one place with one owner (as go2rtc's internal/streams): its two
transcoded feeds (plain, and with the overlay drawn), and for an RTSP camera its passthrough feed
and its audio. gateway.cameras.live adds and removes them as the database's cameras change; the
sessions (gateway.webrtc.sessions) and the metrics only read them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gateway.webrtc.audio import CameraAudio
from gateway.webrtc.feed import CameraFeed
from gateway.webrtc.passthrough import PassthroughFeed


@dataclass
class CameraStreams:
    plain: CameraFeed
    overlay: CameraFeed
    passthrough: PassthroughFeed | None = None  # RTSP cameras: the camera's own H.264
    audio: CameraAudio | None = None  # RTSP cameras with audio

    def feed(self, overlay: bool) -> CameraFeed:
        return self.overlay if overlay else self.plain

    async def close(self) -> None:
        for part in (self.plain, self.overlay, self.passthrough, self.audio):
            if part is not None:
                await part.close()


class Streams:
    def __init__(self) -> None:
        self._cameras: dict[int, CameraStreams] = {}

    def get(self, camera_id: int) -> CameraStreams | None:
        return self._cameras.get(camera_id)

    def add(self, camera_id: int, streams: CameraStreams) -> None:
        if camera_id in self._cameras:
            raise ValueError(f"camera {camera_id} has its streams already")
        self._cameras[camera_id] = streams

    def remove(self, camera_id: int) -> CameraStreams | None:
        """The camera's streams, no longer listed (the caller closes them)."""
        return self._cameras.pop(camera_id, None)

    def items(self) -> Iterator[tuple[int, CameraStreams]]:
        return iter(list(self._cameras.items()))
