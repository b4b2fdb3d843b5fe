"""Webhooks: each matching event POSTed as JSON, signed.

    POST <url>
    Content-Type: application/json
    X-Camstream-Delivery: <event id>:<phase>        (the same on every retry: receivers dedupe on it)
    X-Camstream-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with the webhook's secret>
    {"delivery": "<event id>:<phase>", "event": {...}}

A 2xx is delivered. A network error, a timeout, a 408, 429 or 5xx is retried (1 s doubling to 60 s)
until CAMSTREAM_WEBHOOK_RETRY_S after the first attempt, then given up; any other answer is given
up at once. Every failure is counted in the bridge's status.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import httpx

from bridge.target import Delivery
from shared.detections import Event
from shared.integrations import WebhookDefinition, check_destination, event_payload, masked_url
from shared.outbound import OutboundDenied
from shared.status import TargetStatus

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
BACKOFF_MAX_S = 60.0
RETRIED = {408, 429}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookTarget:
    def __init__(
        self, name: str, label: str, definition: WebhookDefinition, retry_s: float, delivery: Delivery
    ) -> None:
        self.definition, self.retry_s, self.delivery = definition, retry_s, delivery
        self.status = TargetStatus(name, "webhook", f"{label} ({masked_url(definition.url)})")
        self.client = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)

    def wants(self, event: Event) -> bool:
        return self.definition.wants(event)

    async def deliver(self, event: Event) -> bool:
        delivery = f"{event.id}:{event.phase.value}"
        body = json.dumps(
            {
                "delivery": delivery,
                "event": event_payload(event, self.delivery.camera_name(event.camera_id), self.delivery.public_url),
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json", "User-Agent": "camstream-bridge",
            "X-Camstream-Delivery": delivery, "X-Camstream-Signature": signature(self.definition.secret, body),
        }  # fmt: skip
        first_s, delay_s = time.monotonic(), 1.0
        while True:
            retry, why = await self._attempt(body, headers)
            if why is None:
                self.status.succeeded()
                self.status.connected = True
                return True
            self.status.failures += 1
            self.status.last_error = why
            if self.delivery.stopping():
                return False  # not given up: the next start resumes with it
            if not retry or time.monotonic() - first_s + delay_s > self.retry_s:
                self.status.given_up += 1
                log.warning("%s: gave up delivery %s: %s", self.status.name, delivery, why)
                return True
            self.status.connected = False
            await asyncio.sleep(delay_s)
            delay_s = min(BACKOFF_MAX_S, delay_s * 2)

    async def _attempt(self, body: bytes, headers: dict[str, str]) -> tuple[bool, str | None]:
        """(retry?, why it failed or None)."""
        try:
            await check_destination(self.delivery.outbound, self.definition.url, resolve=True)
        except OutboundDenied as e:
            return False, f"refused: {e}"
        try:
            reply = await self.client.post(self.definition.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return True, "timed out"
        except httpx.HTTPError as e:
            return True, f"cannot connect: {type(e).__name__}"
        if 200 <= reply.status_code < 300:
            return False, None
        retry = reply.status_code in RETRIED or reply.status_code >= 500
        return retry, f"answered {reply.status_code}"

    async def close(self) -> None:
        await self.client.aclose()
