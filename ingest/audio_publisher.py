"""A camera's audio onto its audio stream, as the camera sent it (G.711 packets, AAC frames):
its own thread and a bounded queue, so the reader never waits on Redis; the oldest unit goes
first when Redis is slow. The stream keeps a few seconds."""

from __future__ import annotations

import logging

import redis

from ingest.rtsp.audio import AudioDepacketizer, AudioUnit
from ingest.sender import QueueSender
from shared import keys
from shared.packets import AudioMessage

log = logging.getLogger(__name__)

QUEUE_UNITS = 100
STREAM_UNITS = 200  # G.711 at 20 ms a packet: 4 s; AAC at 16 kHz: 13 s


class AudioPublisher(QueueSender[AudioMessage]):
    def __init__(self, client: redis.Redis, camera_id: int) -> None:
        super().__init__(f"audio-{camera_id}", QUEUE_UNITS)  # full: the oldest unit goes
        self._client = client
        self.camera_id = camera_id
        self._stream = keys.audio_stream(camera_id)
        self._seq = 0
        self._redis_ok = True
        self.sent = 0

    def offer(self, unit: AudioUnit, track: AudioDepacketizer, pts_s: float, received_at_s: float) -> None:
        """Queue an audio unit for XADD; never blocks."""
        with self._wake:
            self._queue(AudioMessage(
                self.camera_id, self._seq, unit.codec, track.sample_rate, track.channels, track.config, pts_s,
                received_at_s, unit.data,
            ))  # fmt: skip
            self._seq += 1

    def _send(self, message: AudioMessage) -> None:
        try:
            self._client.xadd(self._stream, {keys.PACKET_FIELD: message.encode()}, maxlen=STREAM_UNITS,
                              approximate=True)  # fmt: skip
        except redis.RedisError as e:
            if self._redis_ok:
                log.warning("camera=%d Redis unavailable, dropping audio: %s", self.camera_id, e)
            self._redis_ok = False
            return
        self._redis_ok = True
        self.sent += 1
