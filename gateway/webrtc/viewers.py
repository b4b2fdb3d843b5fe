"""What every live feed shares, video and audio, passthrough and transcoded: a viewer's track that
its feed fills through a bounded queue (`QueuedTrack`), and the feed's group of viewers with the one
task that reads the camera's shared reader while anyone watches (`ViewerGroup`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any, ClassVar, Generic, TypeVar

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from gateway.bus.fanout import Fanout
from gateway.webrtc.codec import EncodedPacket

T = TypeVar("T")
TrackT = TypeVar("TrackT", bound="QueuedTrack")


class QueuedTrack(MediaStreamTrack):
    """A viewer's track: what its feed offers waits in a bounded queue for aiortc's sender to take.
    Stopping it (the viewer left, the session closed) leaves its feed and wakes a waiting `recv`."""

    def __init__(self, group: ViewerGroup[Any], size: int) -> None:
        super().__init__()
        self.group = group
        self.queue: asyncio.Queue[EncodedPacket | None] = asyncio.Queue(size)
        self.sent = 0

    async def recv(self) -> EncodedPacket:
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        if packet is None:
            raise MediaStreamError
        self.sent += 1
        return packet

    def stop(self) -> None:
        super().stop()
        self.group.unsubscribe(self)
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class ViewerGroup(Generic[TrackT]):
    """A feed's viewers, and its one task, started by the first viewer and ending after the last.
    A feed (a dataclass) declares `camera_id`, `viewers` and `_task`, and writes `_run`."""

    task_prefix: ClassVar[str]
    camera_id: int
    viewers: set[TrackT]
    _task: asyncio.Task[None] | None

    def _join(self, track: TrackT) -> None:
        self.viewers.add(track)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"{self.task_prefix}-{self.camera_id}")

    def unsubscribe(self, track: TrackT) -> None:
        self.viewers.discard(track)

    async def close(self) -> None:
        for track in list(self.viewers):
            track.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        raise NotImplementedError

    async def _while_watched(self, reader: Fanout[T], wait_s: float) -> AsyncGenerator[T, None]:
        """Each item of the camera's shared reader while anyone watches (looking again every wait_s)."""
        listener = reader.listen()
        try:
            while self.viewers:
                try:
                    yield await asyncio.wait_for(listener.get(), wait_s)
                except TimeoutError:
                    continue
        finally:
            reader.leave(listener)
