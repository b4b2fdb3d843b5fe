"""What every delivery target has: a name (its cursor's key), a filter, a way to deliver one event,
and the figures the status shows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from shared.detections import Event


@dataclass
class TargetStatus:
    name: str  # mqtt, webhook:3, notify:5
    kind: str
    label: str  # what an admin called it, or the masked broker URL
    connected: bool = True
    delivered: int = 0
    failures: int = 0  # attempts that failed (a retried delivery counts each time)
    given_up: int = 0  # deliveries abandoned after their retries
    skipped: int = 0  # too old when the target could take them again (CAMSTREAM_BRIDGE_REPLAY_S)
    queued: int = 0  # event messages on the stream after its place
    last_delivery_at: float | None = None
    last_error: str | None = None

    def succeeded(self) -> None:
        self.delivered += 1
        self.last_delivery_at = time.time()
        self.last_error = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "label": self.label, "connected": self.connected,
            "delivered": self.delivered, "failures": self.failures, "givenUp": self.given_up,
            "skipped": self.skipped, "queued": self.queued, "lastDeliveryAt": self.last_delivery_at,
            "lastError": self.last_error,
        }  # fmt: skip


class Target(Protocol):
    status: TargetStatus

    def wants(self, event: Event) -> bool: ...

    async def deliver(self, event: Event) -> bool:
        """Deliver it, retrying as the target's rules say: True once delivered or given up (counted),
        False when the bridge stops first (its place stays, so the next start delivers it)."""
        ...
