"""What a worker writes to Redis: each analysed frame's detections, and events.

Detections are live data: one that Redis does not take is gone. Events are promised: a
message Redis does not take (it is down, or frozen) waits in a bounded outbox and is sent
again, in order, once Redis answers, so an event that started is also seen to end.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections import deque

import redis

from analyzer.pipeline import EventOut
from shared import keys
from shared.detections import FrameDetections
from shared.settings import Settings

log = logging.getLogger(__name__)

# An outage of many minutes on a busy system; past either bound the oldest messages go first.
OUTBOX_EVENTS = 5_000
OUTBOX_BYTES = 64 * 1024 * 1024  # mostly snapshot JPEGs
SEND_BATCH = 100


class Publisher:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.detections_len = settings.detections_stream_len
        self.history_len = settings.events_history_len
        self.ttl_ms = int(settings.event_ttl_s * 1000)
        self.outbox: deque[EventOut] = deque()
        self.outbox_bytes = 0
        self.events_dropped = 0  # outbox overflow during a long outage

    def detections(self, detections: FrameDetections) -> None:
        """Raises redis.RedisError: the caller counts Redis as down."""
        self.client.xadd(
            keys.detections_stream(detections.camera_id), {keys.DETECTIONS_FIELD: detections.encode()},
            maxlen=self.detections_len, approximate=True,
        )  # fmt: skip

    def events(self, events: list[EventOut]) -> None:
        """Queue the events and send everything waiting. Never raises: what is not sent waits."""
        for out in events:
            self.outbox.append(out)
            self.outbox_bytes += _size(out)
            while len(self.outbox) > OUTBOX_EVENTS or self.outbox_bytes > OUTBOX_BYTES:
                self._pop()
                self.events_dropped += 1
                log.error("outbox full: an event message was dropped (%d so far)", self.events_dropped)
        self.flush()

    def flush(self) -> bool:
        """Send what waits, oldest first; False if Redis did not take it all."""
        while self.outbox:
            batch = list(itertools.islice(self.outbox, SEND_BATCH))
            try:
                self._send(batch)
            except redis.RedisError as e:
                log.warning("%d event message(s) wait for Redis: %s", len(self.outbox), e)
                return False
            for _ in batch:
                self._pop()
        return True

    def _pop(self) -> None:
        self.outbox_bytes -= _size(self.outbox.popleft())

    def _send(self, batch: list[EventOut]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for out in batch:
            event = dataclasses.replace(out.event, published_at_s=time.time())
            text = event.encode()
            if out.snapshot is not None:
                pipe.set(keys.event_snapshot(event.id), out.snapshot, px=self.ttl_ms)
            pipe.set(keys.event_record(event.id), text, px=self.ttl_ms)
            pipe.xadd(keys.EVENTS_STREAM, {keys.EVENT_FIELD: text}, maxlen=self.history_len, approximate=True)
            pipe.publish(keys.camera_events_channel(event.camera_id), text)
            pipe.publish(keys.EVENTS_CHANNEL, text)
        pipe.execute()
        for out in batch:
            log.info("camera=%d %s %s %s", out.event.camera_id, out.event.type, out.event.phase, out.event.id)


def _size(out: EventOut) -> int:
    return 512 + (len(out.snapshot) if out.snapshot is not None else 0)
