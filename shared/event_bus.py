"""Where an event message goes on Redis: the capped history stream, its camera's channel and the
channel of every event. One place, for every process that publishes events (the analyzer's
workers, the recorder's recording gaps)."""

from __future__ import annotations

from typing import Any

from shared import keys
from shared.detections import Event


def queue_event(pipe: Any, event: Event, history_len: int) -> None:
    """Add the event's three writes to a redis pipeline (sync or asyncio); the caller executes it."""
    text = event.encode()
    pipe.xadd(keys.EVENTS_STREAM, {keys.EVENT_FIELD: text}, maxlen=history_len, approximate=True)
    pipe.publish(keys.camera_events_channel(event.camera_id), text)
    pipe.publish(keys.EVENTS_CHANNEL, text)
