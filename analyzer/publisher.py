"""What a worker publishes: each analysed frame's detections, and events.

Detections are live data on Redis: one that Redis does not take is gone. Events go two ways:
to the database (analyzer.history), which is their durable history, and to Redis for whoever
watches live; a message Redis does not take (it is down, or frozen) waits in a bounded outbox
and is sent again, in order, once Redis answers, so an event that started is also seen to end.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections import deque

import redis

from analyzer.history import HistoryWriter
from analyzer.pipeline import EventOut
from shared import keys
from shared.db.events import StoredEvent
from shared.detections import Event, FrameDetections
from shared.event_bus import queue_event
from shared.settings import Settings

log = logging.getLogger(__name__)

# An outage of many minutes on a busy system (messages of ~500 bytes; snapshots go to the database
# only); past it the oldest messages go first.
OUTBOX_EVENTS = 5_000
SEND_BATCH = 100


class Publisher:
    def __init__(self, client: redis.Redis, settings: Settings, history: HistoryWriter | None) -> None:
        self.client = client
        self.history = history  # None: live only (tests of the Redis side)
        self.detections_len = settings.detections_stream_len
        self.history_len = settings.events_history_len
        self.outbox: deque[Event] = deque()
        self.events_dropped = 0  # outbox overflow during a long outage

    def detections(self, detections: FrameDetections) -> None:
        """Raises redis.RedisError: the caller counts Redis as down."""
        self.client.xadd(
            keys.detections_stream(detections.camera_id), {keys.DETECTIONS_FIELD: detections.encode()},
            maxlen=self.detections_len, approximate=True,
        )  # fmt: skip

    def events(self, events: list[EventOut]) -> None:
        """Store the events and send everything waiting. Never raises: what is not sent waits."""
        now_s = time.time()
        # Stamped once, so that the database and the live channels carry the same message.
        events = [EventOut(dataclasses.replace(out.event, published_at_s=now_s), out.snapshot) for out in events]
        if self.history is not None and events:
            self.history.put([StoredEvent(out.event, out.snapshot) for out in events])
        for out in events:
            self.outbox.append(out.event)
            while len(self.outbox) > OUTBOX_EVENTS:
                self.outbox.popleft()
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
                self.outbox.popleft()
        return True

    def _send(self, batch: list[Event]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for event in batch:
            queue_event(pipe, event, self.history_len)
        pipe.execute()
        for event in batch:
            log.info("camera=%d %s %s %s", event.camera_id, event.type, event.phase, event.id)
