"""Managing cameras: adding, changing and deleting them at run time, and probing a camera before adding
it. Admins only (the router says so). Bodies have the camera file's fields, snake_case as there
(docs/configuration.md); a change is in the database at once and applied by every process within
about a second (shared.db.watch)."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from analyzer.detectors.tamper import LEARN_S
from gateway.auth.deps import AdminOnly, PrincipalDep, client_of
from gateway.cameras.probe import TooManyProbes
from gateway.cameras.store import Managed, Rejected, masked_definition
from gateway.models import ApiModel, CameraId, ProbeOut
from gateway.state import Gateway, GatewayDep
from shared import recordings
from shared.camera_urls import check_rtsp_url
from shared.db.cameras import CameraExists, CameraNotFound
from shared.outbound import OutboundDenied

router = APIRouter(tags=["cameras"], dependencies=[AdminOnly])


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(max_length=2048, description="rtsp:// or rtsps:// URL, credentials included if needed")


@router.post("/api/cameras/probe", response_model=ProbeOut,
             responses={422: {"description": "the camera cannot be read, and why"}})  # fmt: skip
async def probe_camera(body: ProbeIn, gateway: GatewayDep) -> ProbeOut:
    """Open the URL briefly: its codec, size, frame rate, keyframe interval and audio, or why it cannot
    be read (refused, timed out, wrong credentials, not a video stream). Only rtsp:// and rtsps://."""
    if urlsplit(body.source.strip()).scheme.lower() not in ("rtsp", "rtsps"):
        raise HTTPException(status_code=400, detail="only rtsp:// and rtsps:// URLs can be probed")
    try:
        gateway.prober.admit()
    except TooManyProbes as e:
        raise HTTPException(status_code=429, detail=str(e), headers={"Retry-After": "60"}) from None
    try:
        check_rtsp_url(body.source.strip())
        await gateway.outbound.check_url(body.source.strip())
    except (ValueError, OutboundDenied) as e:
        raise HTTPException(status_code=422, detail=f"cannot read the camera: {e}") from None
    try:
        answer = await gateway.prober.probe(body.source.strip())
    except TooManyProbes as e:
        raise HTTPException(status_code=429, detail=str(e), headers={"Retry-After": "5"}) from None
    if not answer.get("ok"):
        raise HTTPException(status_code=422, detail=f"cannot read the camera: {answer.get('reason')}")
    return ProbeOut.model_validate(answer)


Fields = Annotated[dict[str, Any], Body(description="The camera file's fields (docs/configuration.md)")]


@router.post("/api/cameras", status_code=201, responses={409: {"description": "The id is taken"}})
async def add_camera(fields: Fields, gateway: GatewayDep, who: PrincipalDep, request: Request) -> dict[str, Any]:
    """Add a camera (rtsp:// or rtsps://); `id` is assigned when absent. 201 with the camera as stored,
    its password as ***; 409 for a taken id; 422 with the camera file's messages."""
    try:
        camera = await gateway.camera_store.create(fields)
    except Rejected as e:
        raise HTTPException(status_code=422, detail=str(e)) from None
    except CameraExists as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    await gateway.applied(camera.id, camera)
    await gateway.accounts.record("camera added", who.name, str(camera.id), client_of(request))
    return masked_definition(camera)


@router.get("/api/cameras/{camera_id}/config", responses={404: {"description": "Unknown camera"}})
async def camera_config(camera_id: CameraId, gateway: GatewayDep) -> dict[str, Any]:
    """The camera as stored (the camera file's fields), its password as ***."""
    return masked_definition(gateway.camera(camera_id))


@router.patch("/api/cameras/{camera_id}", responses={
    404: {"description": "Unknown camera"}, 409: {"description": "A field the camera registry owns"}})  # fmt: skip
async def change_camera(
    camera_id: CameraId, fields: Fields, gateway: GatewayDep, who: PrincipalDep, request: Request
) -> dict[str, Any]:
    """Change the fields given (`analysis` or `record` replace theirs whole); a URL sent back with ***
    keeps the stored password."""
    try:
        camera = await gateway.camera_store.update(camera_id, fields)
    except LookupError:
        raise HTTPException(status_code=404, detail=f"no camera with id {camera_id}") from None
    except Managed as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    except Rejected as e:
        raise HTTPException(status_code=422, detail=str(e)) from None
    await gateway.applied(camera_id, camera)
    await gateway.accounts.record("camera changed", who.name, str(camera_id), client_of(request),
                                  {"fields": sorted(fields)})  # fmt: skip
    return masked_definition(camera)


@router.delete("/api/cameras/{camera_id}", status_code=204, responses={
    404: {"description": "Unknown camera"}, 409: {"description": "The camera registry owns it"}})  # fmt: skip
async def delete_camera(
    camera_id: CameraId, gateway: GatewayDep, who: PrincipalDep, request: Request, purge: bool = False
) -> None:
    """Delete a camera; its events and recordings are kept unless `purge=true`."""
    try:
        await gateway.camera_store.delete(camera_id)
    except CameraNotFound:
        raise HTTPException(status_code=404, detail=f"no camera with id {camera_id}") from None
    except Managed as e:
        raise HTTPException(status_code=409, detail=str(e)) from None
    await gateway.applied(camera_id, None)
    if purge:
        await _purge(gateway, camera_id)
    await gateway.accounts.record("camera deleted", who.name, str(camera_id), client_of(request),
                                  {"purge": purge})  # fmt: skip


class NewNormalOut(ApiModel):
    camera_id: int
    requested_at: float  # unix seconds
    learn_s: float  # the view is learnt over about this long, by the worker analysing the camera


@router.post("/api/cameras/{camera_id}/health/reference", status_code=202, response_model=NewNormalOut,
             responses={404: {"description": "Unknown camera"},
                        409: {"description": "The camera's view is not watched for tampering"}})  # fmt: skip
async def new_normal_view(camera_id: CameraId, gateway: GatewayDep, who: PrincipalDep,
                          request: Request) -> NewNormalOut:  # fmt: skip
    """This camera's view now is its normal one (after a deliberate move, a new lens): the analyzer
    learns it again over the next few seconds, and an open `tamper` event ends (docs/health.md).
    409 when the camera is not analysed or its tamper watch is off."""
    camera = gateway.camera(camera_id)
    if not (camera.enabled and camera.analysis.enabled and camera.health.enabled and camera.health.tamper):
        raise HTTPException(status_code=409, detail=f"camera {camera_id}'s view is not watched for tampering "
                            "(it needs analysis on and health.tamper on)")  # fmt: skip
    at_s = time.time()
    await gateway.store.new_normal_view(camera_id, at_s)
    await gateway.accounts.record("camera view set as normal", who.name, str(camera_id), client_of(request))
    return NewNormalOut(camera_id=camera_id, requested_at=at_s, learn_s=LEARN_S)


async def _purge(gateway: Gateway, camera_id: int) -> None:
    await gateway.history.delete_camera(camera_id)
    await gateway.recordings.remove_camera(camera_id)
    folder = recordings.camera_dir(gateway.settings.recordings_root, camera_id)
    await asyncio.to_thread(shutil.rmtree, folder, True)
    await gateway.footage.purge(camera_id)  # its footage on other hosts' disks (logged where it could not be)
