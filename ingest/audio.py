"""A camera's audio onto its audio stream, as the camera sent it (G.711 packets, AAC frames):
its own thread and a bounded queue, so the reader never waits on Redis; the oldest unit goes
first when Redis is slow. The stream keeps a few seconds."""

from __future__ import annotations

import logging
import threading
from collections import deque

import redis

from ingest.rtsp.audio import AudioDepacketizer, AudioUnit
from shared import keys
from shared.packets import AudioMessage

log = logging.getLogger(__name__)

QUEUE_UNITS = 100
STREAM_UNITS = 200  # G.711 at 20 ms a packet: 4 s; AAC at 16 kHz: 13 s


class AudioPublisher(threading.Thread):
    def __init__(self, client: redis.Redis, camera_id: int) -> None:
        super().__init__(name=f"audio-{camera_id}", daemon=True)
        self._client = client
        self.camera_id = camera_id
        self._stream = keys.audio_stream(camera_id)
        self._pending: deque[AudioMessage] = deque(maxlen=QUEUE_UNITS)
        self._wake = threading.Condition()
        self._stopping = False
        self._seq = 0
        self._redis_ok = True
        self.sent = 0

    def offer(self, unit: AudioUnit, track: AudioDepacketizer, pts_s: float, received_at_s: float) -> None:
        """Queue an audio unit for XADD; never blocks."""
        with self._wake:
            self._pending.append(AudioMessage(
                self.camera_id, self._seq, unit.codec, track.sample_rate, track.channels, track.config, pts_s,
                received_at_s, unit.data,
            ))  # fmt: skip
            self._seq += 1
            self._wake.notify()

    def stop(self, timeout_s: float = 2.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.join(timeout_s)

    def run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait(0.5)
                if self._stopping and not self._pending:
                    return
                message = self._pending.popleft()
            try:
                self._client.xadd(self._stream, {keys.PACKET_FIELD: message.encode()}, maxlen=STREAM_UNITS,
                                  approximate=True)  # fmt: skip
            except redis.RedisError as e:
                if self._redis_ok:
                    log.warning("camera=%d Redis unavailable, dropping audio: %s", self.camera_id, e)
                self._redis_ok = False
                continue
            self._redis_ok = True
            self.sent += 1
