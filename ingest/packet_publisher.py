"""The camera's own access units onto its packet stream, for passthrough viewers.

Only while someone reads them (a gateway's passthrough feed sets `packets_wanted`, which the
camera's status write looks for each second): unwatched, a camera's units cost nothing here, and
when a viewer comes the stream starts at the camera's next keyframe (the viewer watches the shared
transcoder until then, as any viewer joining mid-GOP does).

A thread of its own takes them from the reader through a bounded queue and XADDs each at once:
the reader never waits on Redis. If Redis is slow or gone and the queue fills, everything
waiting is dropped and so is every access unit up to the next keyframe (a decoder given a
stream with a hole shows garbage until then). The stream is trimmed by time, never past its
last keyframe, so a new viewer can always start at a keyframe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from ingest.rtsp.depacketize import AccessUnit
from ingest.sender import QueueSender
from shared import keys
from shared.packets import PacketMessage

log = logging.getLogger(__name__)

QUEUE_UNITS = 120  # 8 s at 15 fps: far more than a Redis hiccup the reader should ride out


class PacketPublisher(QueueSender[PacketMessage]):
    def __init__(self, client: redis.Redis, camera_id: int, keep_s: float, wanted: Callable[[], bool]) -> None:
        super().__init__(f"packets-{camera_id}")
        self._wanted = wanted
        self._client = client
        self.camera_id = camera_id
        self._stream = keys.packet_stream(camera_id)
        self._keep_ms = int(keep_s * 1000)
        self._seq = 0
        self._need_keyframe = True
        self._last_keyframe_id = "0-0"
        self._redis_ok = True
        self.sent = 0
        self.dropped = 0

    def offer(self, unit: AccessUnit, pts_s: float, received_at_s: float) -> None:
        """Queue an access unit for XADD; never blocks."""
        if not self._wanted():
            self._need_keyframe = True  # whoever asks next starts at a keyframe
            return
        with self._wake:
            if self._need_keyframe and not unit.keyframe:
                self.dropped += 1
                return
            self._need_keyframe = False
            if len(self._pending) >= QUEUE_UNITS:
                self.dropped += len(self._pending) + 1
                self._pending.clear()
                self._need_keyframe = True
                return
            self._queue(PacketMessage(
                self.camera_id, self._seq, unit.codec, unit.keyframe, pts_s, received_at_s, unit.data
            ))  # fmt: skip
            self._seq += 1

    def restart(self) -> None:
        """The reader reconnected: the next access unit it gives must be a keyframe."""
        with self._wake:
            self._need_keyframe = True

    def _send(self, message: PacketMessage) -> None:
        # Keep at least everything since the last keyframe, and at least keep_s of history.
        floor_ms = int(time.time() * 1000) - self._keep_ms
        keyframe_ms = int(self._last_keyframe_id.split("-")[0])
        min_id = str(min(floor_ms, keyframe_ms)) if keyframe_ms else "0"
        try:
            entry_id = self._client.xadd(
                self._stream, {keys.PACKET_FIELD: message.encode()}, minid=min_id, approximate=True
            )
        except redis.RedisError as e:
            self.dropped += 1
            with self._wake:
                self._pending.clear()  # what follows would not decode without what was lost
                self._need_keyframe = True
            if self._redis_ok:
                log.warning("camera=%d Redis unavailable, dropping access units: %s", self.camera_id, e)
            self._redis_ok = False
            return
        if not self._redis_ok:
            log.info("camera=%d Redis reachable again: access units flow", self.camera_id)
        self._redis_ok = True
        self.sent += 1
        if message.keyframe:
            self._last_keyframe_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
