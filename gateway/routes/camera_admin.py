"""Managing cameras: probing a camera before adding it. Admins only (the router says so)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.deps import AdminOnly
from gateway.models import ProbeOut
from gateway.probe import TooManyProbes
from gateway.state import GatewayDep

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
        answer = await gateway.prober.probe(body.source.strip())
    except TooManyProbes as e:
        raise HTTPException(status_code=429, detail=str(e), headers={"Retry-After": "5"}) from None
    if not answer.get("ok"):
        raise HTTPException(status_code=422, detail=f"cannot read the camera: {answer.get('reason')}")
    return ProbeOut.model_validate(answer)
