"""WHEP (WebRTC-HTTP Egress Protocol, RFC 9725): any WHEP player (OBS, GStreamer's whepsrc,
ffmpeg builds with WHEP) pulls a camera with one POST of its SDP offer, authenticated like the
rest of the API (a bearer token, as a rule). The answer's Location ends the session with DELETE.
The gateway gathers its candidates before answering, so no trickle ICE (PATCH) is needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from gateway.models import CameraId
from gateway.routes.signalling import MAX_SDP, SessionId, new_session, session_or_error
from gateway.state import GatewayDep
from gateway.webrtc.compat import SignallingError

router = APIRouter(tags=["webrtc"])

SDP = "application/sdp"


@router.post(
    "/api/whep/{camera_id}", status_code=201, response_class=Response,
    openapi_extra={"requestBody": {"required": True, "content": {SDP: {"schema": {"type": "string"}}}}},
    responses={
        201: {"content": {SDP: {}}, "description": "The SDP answer; `Location` is the session, to DELETE",
              "headers": {"Location": {"schema": {"type": "string"}}}},
        400: {"description": "Not a usable offer"}, 404: {"description": "Unknown camera"},
        409: {"description": "The camera is disabled"}, 415: {"description": "Not application/sdp"},
        429: {"description": "Too many sessions still connecting"},
    },
)  # fmt: skip
async def whep_offer(camera_id: CameraId, request: Request, gateway: GatewayDep) -> Response:
    """The player's SDP offer in (`Content-Type: application/sdp`), the answer out, in one round trip."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != SDP:
        raise HTTPException(status_code=415, detail="send the offer as application/sdp")
    body = await request.body()
    if len(body) > MAX_SDP:
        raise HTTPException(status_code=413, detail=f"an offer is at most {MAX_SDP} bytes")
    try:
        offer = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(status_code=400, detail="the offer is not UTF-8 text") from None
    session = await new_session(gateway, camera_id, False, request)
    try:
        answer = await gateway.sessions.answer(session, offer)
    except SignallingError as e:
        await gateway.sessions.close(session.id, f"bad WHEP offer: {e}")
        raise HTTPException(status_code=400, detail=str(e)) from None
    location = f"/api/whep/{camera_id}/{session.id}?token={session.token}"
    return Response(answer.sdp, status_code=201, media_type=SDP, headers={"Location": location})


@router.delete(
    "/api/whep/{camera_id}/{session_id}", status_code=204,
    responses={403: {"description": "Wrong token"}, 404: {"description": "No such session"}},
)  # fmt: skip
async def whep_end(
    camera_id: CameraId, session_id: SessionId, gateway: GatewayDep,
    token: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:  # fmt: skip
    """End a WHEP session (the `Location` of its answer, token included)."""
    if session_or_error(gateway, session_id, token).camera_id != camera_id:
        raise HTTPException(status_code=404, detail=f"no session {session_id} of camera {camera_id}")
    await gateway.sessions.close(session_id, "WHEP player ended it")
    return Response(status_code=204)
