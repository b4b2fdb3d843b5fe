"""What every delivery target has: a name (its cursor's key), a filter, a way to deliver one event,
and the figures the status shows (shared.status.TargetStatus: the bridge's status record is read by the gateway)."""

from __future__ import annotations

from typing import Protocol

from shared.detections import Event
from shared.status import TargetStatus


class Target(Protocol):
    status: TargetStatus

    def wants(self, event: Event) -> bool: ...

    async def deliver(self, event: Event) -> bool:
        """Deliver it, retrying as the target's rules say: True once delivered or given up (counted),
        False when the bridge stops first (its place stays, so the next start delivers it)."""
        ...
