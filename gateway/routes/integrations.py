"""Webhooks and notification targets: admins list, add and delete them; the bridge process
delivers to them (bridge/). A webhook's secret and URL, and a notification URL (which holds the
service's token), are sealed at rest and never shown again: responses give the URL as
`scheme://host/***`. A webhook added without a secret gets one generated, shown once."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field, ValidationError

from gateway.auth.deps import AdminOnly, PrincipalDep, client_of
from gateway.models import ApiModel, RowId
from gateway.state import GatewayDep
from shared.db.integrations import StoredIntegration
from shared.integrations import NotifyDefinition, Phase, WebhookDefinition, check_destination, masked_url
from shared.labels import EventKind
from shared.notify import NotifyError, send_notification
from shared.outbound import OutboundDenied

router = APIRouter(tags=["integrations"], dependencies=[AdminOnly])

TEST_TIMEOUT_S = 20.0


class IntegrationIn(ApiModel):
    name: str
    url: str
    cameras: list[int] = Field(default_factory=list, description="Camera ids; empty: every camera")
    types: list[EventKind] = Field(
        default_factory=list, description="Event types or object labels (car, dog, ...); empty: every type"
    )
    phases: list[Phase] | None = None  # webhooks: start and end; notifications: start
    secret: str | None = None  # webhooks: the HMAC key (16 characters at least); generated when absent
    cooldown_s: float | None = None  # notifications: least seconds between two of one camera


class IntegrationOut(ApiModel):
    id: int
    name: str
    url: str  # masked
    cameras: list[int]
    types: list[str]
    phases: list[str]
    cooldown_s: float | None = None
    created_at: float
    secret: str | None = None  # a generated webhook secret, in the answer to its POST only


def _out(stored: StoredIntegration, secret: str | None = None) -> IntegrationOut:
    d = stored.definition
    return IntegrationOut(
        id=stored.id, name=stored.name, url=str(d.get("shown_url", "")), cameras=d.get("cameras", []),
        types=d.get("types", []), phases=d.get("phases", []), cooldown_s=d.get("cooldown_s"),
        created_at=stored.created_at_s, secret=secret,
    )  # fmt: skip


def _definition(kind: str, body: IntegrationIn) -> tuple[dict[str, Any], str | None]:
    """The checked definition (as stored, before sealing) and a generated secret, if one was."""
    if not body.name.strip() or len(body.name) > 100:
        raise HTTPException(status_code=422, detail="name: 1 to 100 characters")
    fields: dict[str, Any] = {"url": body.url, "cameras": body.cameras, "types": body.types}
    if body.phases is not None:
        fields["phases"] = body.phases
    generated = None
    try:
        if kind == "webhook":
            if body.cooldown_s is not None:
                raise HTTPException(status_code=422, detail="cooldownS is for notifications")
            generated = None if body.secret else secrets.token_urlsafe(32)
            fields["secret"] = body.secret or generated
            checked: dict[str, Any] = WebhookDefinition.model_validate(fields).model_dump()
        else:
            if body.secret is not None:
                raise HTTPException(status_code=422, detail="secret is for webhooks")
            fields["cooldown_s"] = body.cooldown_s
            checked = NotifyDefinition.model_validate(fields).model_dump()
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors(
            include_input=False, include_url=False))  # fmt: skip
        raise HTTPException(status_code=422, detail=problems) from None
    return checked, generated


async def _add(
    kind: str, body: IntegrationIn, gateway: GatewayDep, who: PrincipalDep, request: Request
) -> IntegrationOut:
    checked, generated = _definition(kind, body)
    try:
        await check_destination(gateway.outbound, checked["url"], resolve=False)
    except OutboundDenied as e:
        raise HTTPException(status_code=422, detail=f"url: {e}") from None
    shown = masked_url(checked["url"])  # the definition's URL and secret are sealed by the repository
    found = await gateway.integrations.add(kind, body.name.strip(), {**checked, "shown_url": shown})
    await gateway.accounts.record(f"{kind} added", who.name, str(found.id), client_of(request))
    return _out(found, generated)


async def _list(kind: str, gateway: GatewayDep) -> list[IntegrationOut]:
    return [_out(i) for i in await gateway.integrations.all(kind)]


async def _delete(kind: str, integration_id: int, gateway: GatewayDep, who: PrincipalDep, request: Request) -> None:
    if not await gateway.integrations.remove(kind, integration_id):
        raise HTTPException(status_code=404, detail=f"no {kind} with id {integration_id}")
    await gateway.accounts.record(f"{kind} deleted", who.name, str(integration_id), client_of(request))


@router.get("/api/webhooks", response_model=list[IntegrationOut], response_model_exclude_none=True)
async def webhooks(gateway: GatewayDep) -> list[IntegrationOut]:
    """Every webhook (URL masked, secret never shown)."""
    return await _list("webhook", gateway)


@router.post("/api/webhooks", status_code=201, response_model=IntegrationOut, response_model_exclude_none=True)
async def add_webhook(body: IntegrationIn, gateway: GatewayDep, who: PrincipalDep, request: Request) -> IntegrationOut:
    """Add a webhook: `url` (http or https), filters (`cameras`, `types`, `phases`), `secret` (or one is
    generated and shown in this answer only). Every matching event is POSTed, signed."""
    return await _add("webhook", body, gateway, who, request)


@router.delete("/api/webhooks/{webhook_id}", status_code=204, responses={404: {"description": "No such webhook"}})
async def delete_webhook(webhook_id: RowId, gateway: GatewayDep, who: PrincipalDep, request: Request) -> None:
    await _delete("webhook", webhook_id, gateway, who, request)


@router.get("/api/notifications", response_model=list[IntegrationOut], response_model_exclude_none=True)
async def notifications(gateway: GatewayDep) -> list[IntegrationOut]:
    """Every notification target (apprise URL masked)."""
    return await _list("notify", gateway)


@router.post("/api/notifications", status_code=201, response_model=IntegrationOut, response_model_exclude_none=True)
async def add_notification(
    body: IntegrationIn, gateway: GatewayDep, who: PrincipalDep, request: Request
) -> IntegrationOut:
    """Add a notification target: an apprise `url`, filters (`phases` default: start only), `cooldownS`."""
    return await _add("notify", body, gateway, who, request)


@router.delete(
    "/api/notifications/{notification_id}", status_code=204, responses={404: {"description": "No such target"}}
)
async def delete_notification(notification_id: RowId, gateway: GatewayDep, who: PrincipalDep, request: Request) -> None:
    await _delete("notify", notification_id, gateway, who, request)


@router.post("/api/notifications/{notification_id}/test", responses={
    404: {"description": "No such target"}, 502: {"description": "not sent, and why"}})  # fmt: skip
async def test_notification(notification_id: RowId, gateway: GatewayDep) -> dict[str, bool]:
    """Send a test notification now, with a camera's latest picture attached when one has any."""
    found = await gateway.integrations.find("notify", notification_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no notification target with id {notification_id}")
    url = gateway.integrations.opened(found, "url")
    jpeg = None
    for camera in gateway.cameras.cameras:
        latest = await gateway.store.latest_frame(camera.id)
        if latest is not None:
            jpeg = latest[1].jpeg
            break
    try:
        await check_destination(gateway.outbound, url, resolve=True)
        sending = send_notification(url, "camstream: test notification", "A test from camstream's dashboard.", jpeg)
        await asyncio.wait_for(sending, TEST_TIMEOUT_S)
    except (NotifyError, OutboundDenied) as e:
        raise HTTPException(status_code=502, detail=f"not sent: {e}") from None
    except TimeoutError:
        raise HTTPException(status_code=502, detail="not sent: the service did not answer in 20 s") from None
    return {"sent": True}
