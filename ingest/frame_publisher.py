"""The one thread of a camera process that talks to Redis.

The source loop hands it frames through a two-slot buffer and never waits: if Redis is
slow or gone, the oldest waiting frame is dropped and counted (frames_failed), so a Redis
hiccup costs the camera frames, never time. The same thread refreshes the status record and,
in the same round trip, learns whether anyone reads the frames at the camera's full rate, and
whether anyone reads the camera's packet stream.
"""

from __future__ import annotations

import logging

import redis

from ingest.sender import QueueSender
from ingest.stats import CameraStats
from shared import keys
from shared.messages import FrameMessage

log = logging.getLogger(__name__)

BUFFER_FRAMES = 2


class Publisher(QueueSender[tuple[FrameMessage, float]]):
    def __init__(
        self,
        client: redis.Redis,
        stats: CameraStats,
        maxlen: int,
        status_interval_s: float,
        status_ttl_s: float,
    ) -> None:
        super().__init__(f"publisher-{stats.camera_id}")
        self._client = client
        self._stats = stats
        self._maxlen = maxlen
        self._stream = keys.frame_stream(stats.camera_id)
        self._status_key = keys.camera_status(stats.camera_id)
        self._wanted_keys = (keys.frames_wanted(stats.camera_id), keys.packets_wanted(stats.camera_id))
        self.full_rate_wanted = False  # someone reads the frame stream whole (MJPEG, a transcoder)
        self.packets_wanted = False  # someone reads the packet stream (a passthrough feed)
        self.tick_s = status_interval_s  # the status record, rewritten this often
        self._status_ttl_ms = int(status_ttl_s * 1000)
        self._redis_ok = True

    def offer(self, frame: FrameMessage, received_at_s: float) -> None:
        """Queue a frame for XADD; never blocks."""
        with self._wake:
            if len(self._pending) >= BUFFER_FRAMES:
                self._pending.popleft()
                self._stats.frames_failed += 1
            self._queue((frame, received_at_s))

    def status_changed(self) -> None:
        """Write the status record now rather than at the next tick."""
        self.poke()

    def _send(self, item: tuple[FrameMessage, float]) -> None:
        frame, received_at_s = item
        try:
            self._client.xadd(self._stream, {keys.FRAME_FIELD: frame.encode()}, maxlen=self._maxlen, approximate=True)
        except redis.RedisError as e:
            self._stats.frames_failed += 1
            self._redis_down(e)
            return
        self._redis_up()
        self._stats.frame_sent(received_at_s)

    def _tick(self) -> None:
        self._write_status()

    def _write_status(self) -> None:
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.set(self._status_key, self._stats.snapshot().encode(), px=self._status_ttl_ms)
                for key in self._wanted_keys:
                    pipe.exists(key)
                _, frames, packets = pipe.execute()
        except redis.RedisError as e:
            self._redis_down(e)
            return
        self.full_rate_wanted, self.packets_wanted = bool(frames), bool(packets)
        self._redis_up()

    def _redis_down(self, error: redis.RedisError) -> None:
        if self._redis_ok:  # log the change, not every failed frame
            log.warning("camera=%d Redis unavailable, dropping frames: %s", self._stats.camera_id, error)
        self._redis_ok = False

    def _redis_up(self) -> None:
        if not self._redis_ok:
            log.info("camera=%d Redis reachable again", self._stats.camera_id)
        self._redis_ok = True
