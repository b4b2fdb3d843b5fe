"""Webhooks and notification targets as admins configure them (`/api/webhooks`,
`/api/notifications`), and the event JSON every integration sends. The bridge (bridge/) delivers;
the gateway stores and lists. See docs/integrations.md."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.detections import Event
from shared.labels import EventKind, matches
from shared.outbound import OutboundPolicy

Phase = Literal["start", "end"]


class Filters(BaseModel):
    """Which events go to a target: empty lists mean every camera, every type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: list[int] = Field(default_factory=list, max_length=1000, description="Camera ids; empty: all.")
    types: list[EventKind] = Field(
        default_factory=list, description="Event types or object labels (car, dog, ...); empty: all."
    )
    phases: list[Phase] = Field(
        default_factory=lambda: list[Phase](["start", "end"]), min_length=1, description="start, end."
    )

    def wants(self, event: Event) -> bool:
        return (
            (not self.cameras or event.camera_id in self.cameras)
            and (not self.types or matches(self.types, event.type.value, event.label))
            and event.phase.value in self.phases
        )


class WebhookDefinition(Filters):
    url: str = Field(max_length=2048, description="http:// or https:// URL the events are POSTed to.")
    secret: str = Field(min_length=16, max_length=256, description="HMAC-SHA256 key of the signature header.")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("the URL must be http:// or https:// with a host")
        return url.strip()


class NotifyDefinition(Filters):
    url: str = Field(
        min_length=3, max_length=4096, description="An apprise URL (mailto://, ntfy://, tgram://, json://...)."
    )
    phases: list[Phase] = Field(default_factory=lambda: list[Phase](["start"]), min_length=1, description="start, end.")
    cooldown_s: float | None = Field(
        default=None, ge=0, le=86400, description="Least seconds between two of one camera (unset: the default)."
    )

    @field_validator("url")
    @classmethod
    def _apprise(cls, url: str) -> str:
        if "://" not in url:
            raise ValueError("an apprise URL looks like service://... (docs/integrations.md)")
        return url.strip()


# Schemes whose URL names a server where a host goes: the host is shown, and checked against the
# outbound deny-list (shared.outbound) before anything is sent there.
HOST_SCHEMES = frozenset({
    "http", "https", "json", "jsons", "xml", "xmls", "form", "forms", "gotify", "gotifys", "mailto", "mailtos",
})  # fmt: skip


async def check_destination(policy: OutboundPolicy, url: str, resolve: bool) -> None:
    """Raise OutboundDenied for a target the outbound deny-list refuses. A literal address is always
    checked; a name is looked up only when `resolve` (at delivery) and the scheme names a server
    (elsewhere the host part may be a token, which must not go to a DNS server)."""
    scheme = url.strip().partition("://")[0].lower()
    await policy.check_url(url.strip(), resolve=resolve and scheme in HOST_SCHEMES)


def masked_url(url: str) -> str:
    """Enough of a URL to recognise it, none of what may be secret in it.

    A web address (a webhook, or apprise's json://, xml://, form://, gotify://, mailto://, whose
    host is a server) keeps its host and port: `https://hooks.example:8443/***`. Any other scheme
    keeps its scheme only, `tgram://***`: apprise puts tokens where a host would be
    (`tgram://BOT_ID:SECRET/CHAT`, `pover://USER@TOKEN`, `slack://A/B/C`)."""
    scheme = url.strip().partition("://")[0]
    scheme = scheme.lower() if scheme.isascii() and scheme.isalnum() else "?"
    if scheme not in HOST_SCHEMES:
        return f"{scheme}://***"
    parts = urlsplit(url.strip())
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{scheme}://***"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}{port}/***" if parts.path.strip("/") or parts.query else f"{scheme}://{host}{port}"


def event_payload(event: Event, camera_name: str | None, public_url: str | None) -> dict[str, Any]:
    """The event as MQTT, webhooks and notifications send it: /api/events's JSON, plus the camera's
    name and the event's clip; URLs absolute when CAMSTREAM_PUBLIC_URL is set."""
    base = (public_url or "").rstrip("/")
    box = {"x": event.box.x, "y": event.box.y, "w": event.box.w, "h": event.box.h} if event.box else None
    return {
        "id": event.id, "cameraId": event.camera_id, "cameraName": camera_name, "type": event.type.value,
        "phase": event.phase.value, "startedAt": event.started_at_s, "endedAt": event.ended_at_s,
        "score": event.score, "box": box, "frames": event.frames,
        "snapshotUrl": f"{base}/api/events/{event.id}/snapshot.jpg" if event.snapshot else None,
        "clipUrl": None if event.type.is_health else f"{base}/api/events/{event.id}/clip.mp4",
        "publishedAt": event.published_at_s, "identity": event.identity, "similarity": event.similarity,
        "label": event.label, "stationary": event.stationary, "reason": event.reason, "zone": event.zone,
        "line": event.line, "direction": event.direction, "trackId": event.track_id,
    }  # fmt: skip
