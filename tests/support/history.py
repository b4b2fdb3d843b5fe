"""The event history as users see it (the gateway's /api/events) and as the processes publish it
(the events stream), for the tests that check nothing promised was lost."""

from __future__ import annotations

from typing import Any

import redis

from shared import keys
from shared.detections import Event, EventPhase
from tests.support import web


def listed_events(base: str, limit: int = 500) -> list[dict[str, Any]]:
    """The events /api/events lists, newest first (a repeat would show here)."""
    page = web.get(f"{base}/api/events", params={"limit": limit}, timeout=15).json()
    events: list[dict[str, Any]] = page["events"]
    return events


def events_by_id(base: str) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in listed_events(base)}


def stream_events(client: redis.Redis) -> dict[str, Event]:
    """The latest message of each event on the events stream."""
    latest: dict[str, Event] = {}
    for _id, fields in client.xrange(keys.EVENTS_STREAM):
        event = Event.decode(fields[keys.EVENT_FIELD.encode()])
        latest[event.id] = event
    return latest


def stored_as_published(base: str, published: dict[str, Event]) -> bool:
    """Every one of these events is listed, and ended where its latest message was its end."""
    try:
        listed = events_by_id(base)
    except ValueError:  # a 503 while the database is still coming back
        return False
    return all(
        i in listed and (listed[i]["phase"] == "end" or e.phase is EventPhase.START) for i, e in published.items()
    )
