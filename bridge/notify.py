"""Notifications: a matching event (by default its start) sent through an apprise URL with its
snapshot attached, at most one per camera per cool-down (CAMSTREAM_NOTIFY_COOLDOWN_S, or the
target's own `cooldown_s`). A failed send is retried twice (2 s, then 4 s) and then given up."""

from __future__ import annotations

import asyncio
import logging
import time

from bridge.target import Delivery
from shared.detections import Event, EventPhase, EventType
from shared.integrations import NotifyDefinition, check_destination, event_payload
from shared.notify import NotifyError, send_notification
from shared.outbound import OutboundDenied
from shared.status import TargetStatus

log = logging.getLogger(__name__)

ATTEMPTS = 3


RULE_TITLES = {
    EventType.LINE_CROSSED: "{who} crossed {line} ({direction})",
    EventType.ZONE_ENTERED: "{who} entered {zone}",
    EventType.ZONE_LEFT: "{who} left {zone}",
    EventType.LOITERING: "{who} lingering in {zone}",
}


def title_of(event: Event, camera_name: str | None) -> str:
    # An object by its label ("Car at Drive"); a stationary end says the object stopped.
    where = camera_name or f"camera {event.camera_id}"
    if event.type.is_problem:
        return _problem_title(event, where)
    if event.type in RULE_TITLES:
        title = RULE_TITLES[event.type].format(who=(event.label or "someone").capitalize(), line=event.line,
                                               direction=event.direction, zone=event.zone)  # fmt: skip
        return f"{title} at {where}"
    what = (event.label or "object") if event.type.value == "object" else event.type.value
    what = what.capitalize()
    if event.stationary:
        return f"{what} at {where} stopped"
    return f"{what} at {where}" if event.phase.value == "start" else f"{what} at {where} ended"


def _problem_title(event: Event, where: str) -> str:
    why = f" ({event.reason})" if event.reason else ""
    starting = event.phase is EventPhase.START
    if event.type is EventType.RECORDING_GAP:
        return f"Recording stopped at {where}{why}" if starting else f"Recording resumed at {where}"
    if event.type is EventType.OFFLINE:
        return f"{where} is offline{why}" if starting else f"{where} is back online"
    return f"{where} is {event.reason or 'tampered with'}" if starting else f"{where} sees its normal view again"


class NotifyTarget:
    def __init__(
        self, name: str, label: str, definition: NotifyDefinition, cooldown_s: float, delivery: Delivery
    ) -> None:
        self.definition, self.delivery = definition, delivery
        self.cooldown_s = definition.cooldown_s if definition.cooldown_s is not None else cooldown_s
        self.status = TargetStatus(name, "notify", label)
        self._last_sent: dict[tuple[int, bool], float] = {}  # (camera, problem) -> its last notification (monotonic)

    def wants(self, event: Event) -> bool:
        return self.definition.wants(event)

    async def deliver(self, event: Event) -> bool:
        slot = (event.camera_id, event.type.is_problem)  # a person's cooldown never hides a recording gap
        last = self._last_sent.get(slot)
        if last is not None and time.monotonic() - last < self.cooldown_s:
            self.status.skipped += 1
            return True
        name = self.delivery.camera_name(event.camera_id)
        payload = event_payload(event, name, self.delivery.public_url)
        body = f"{title_of(event, name)} ({event.id})"
        if payload["clipUrl"] and self.delivery.public_url:
            body += f"\nClip: {payload['clipUrl']}"
        jpeg = await self.delivery.snapshot(event)
        for attempt in range(ATTEMPTS):
            try:
                await check_destination(self.delivery.outbound, self.definition.url, resolve=True)
            except OutboundDenied as e:
                self.status.failures += 1
                self.status.given_up += 1
                self.status.last_error = f"refused: {e}"
                return True  # never sent, so never retried
            try:
                await send_notification(self.definition.url, f"camstream: {title_of(event, name)}", body, jpeg)
            except NotifyError as e:
                self.status.failures += 1
                self.status.last_error = str(e)
                self.status.connected = False
                if self.delivery.stopping():
                    return False
                if attempt + 1 < ATTEMPTS:
                    await asyncio.sleep(2.0 * 2**attempt)
                continue
            self._last_sent[slot] = time.monotonic()
            self.status.succeeded()
            self.status.connected = True
            return True
        self.status.given_up += 1
        log.warning("%s: gave up notifying event %s: %s", self.status.name, event.id, self.status.last_error)
        return True
