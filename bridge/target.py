"""What every delivery target has: a name (its cursor's key), a filter, a way to deliver one event,
and the figures the status shows (shared.status.TargetStatus: the bridge's status record is read by the gateway)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from shared.detections import Event
from shared.outbound import OutboundPolicy
from shared.status import TargetStatus


@dataclass(frozen=True)
class Delivery:
    """What every target needs of the bridge to deliver: where links point, camera names, an event's
    picture, whether the bridge is stopping, and where it may connect."""

    public_url: str | None
    camera_name: Callable[[int], str | None]
    snapshot: Callable[[Event], Awaitable[bytes | None]]
    stopping: Callable[[], bool]
    outbound: OutboundPolicy


class Target(Protocol):
    status: TargetStatus

    def wants(self, event: Event) -> bool: ...

    async def deliver(self, event: Event) -> bool:
        """Deliver it, retrying as the target's rules say: True once delivered or given up (counted),
        False when the bridge stops first (its place stays, so the next start delivers it)."""
        ...
