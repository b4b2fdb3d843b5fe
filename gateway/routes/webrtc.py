"""WebRTC signalling: HTTP (one round trip, or server offer then answer) and a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketState

from gateway.models import CameraId
from gateway.routes.signalling import MAX_SDP, SessionId, new_session, session_or_error
from gateway.state import Gateway, GatewayDep, gateway_of
from gateway.webrtc.compat import SignallingError
from gateway.webrtc.sessions import Session
from shared.detections import Box, FrameDetections
from shared.nesting import json_depth

router = APIRouter(tags=["webrtc"])

MAX_MESSAGE = MAX_SDP + 4096  # a signalling message: an SDP and a little JSON around it
MAX_JSON_DEPTH = 8


class StreamRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlay: bool = Field(default=False, description="Draw the analyzer's detections on the video.")
    server_offer: bool = Field(
        default=False, description="Include the gateway's SDP offer (for POST /api/webrtc/answer)."
    )
    audio: bool = Field(
        default=False,
        description="Put the camera's audio in the gateway's offer (RTSP cameras with audio). A viewer's own "
        "offer gets audio when it has an audio m-line.",
    )


class StreamCreated(BaseModel):
    session_id: str
    token: str
    signaling_url: str
    offer: dict[str, str] | None = None


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: int
    sdp: str = Field(max_length=MAX_SDP)
    type: Literal["offer"]
    overlay: bool = False


class AnswerOut(BaseModel):
    session_id: str
    sdp: str
    type: Literal["answer"] = "answer"
    token: str


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str
    token: str
    sdp: str = Field(max_length=MAX_SDP)
    type: Literal["answer"]


class CandidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str
    token: str
    candidate: dict[str, Any]


NEW_SESSION: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown camera"}, 409: {"description": "The camera is disabled"},
    429: {"description": "Too many sessions"},
}  # fmt: skip
IN_SESSION: dict[int | str, dict[str, Any]] = {
    403: {"description": "Wrong or missing session token"}, 404: {"description": "No such session"},
}  # fmt: skip
BAD_SDP: dict[int | str, dict[str, Any]] = {400: {"description": "Unusable SDP or candidate"}}


@router.post("/api/webrtc/stream/{camera_id}", status_code=201, response_model=StreamCreated, responses=NEW_SESSION)
async def create_stream(
    camera_id: CameraId, gateway: GatewayDep, request: Request, body: Annotated[StreamRequest | None, Body()] = None
) -> StreamCreated:
    """Start a session; negotiate over the signalling WebSocket (or HTTP with server_offer).
    429 while too many sessions are still connecting."""
    options = body or StreamRequest()
    session = await new_session(gateway, camera_id, options.overlay, request)
    offer = None
    if options.server_offer:
        description = await gateway.sessions.server_offer(session, options.audio)
        offer = {"sdp": description.sdp, "type": description.type}
    url = f"/ws/webrtc/{session.id}?token={session.token}"
    return StreamCreated(session_id=session.id, token=session.token, signaling_url=url, offer=offer)


@router.post("/api/webrtc/offer", response_model=AnswerOut, responses=NEW_SESSION | BAD_SDP)
async def client_offer(offer: OfferIn, gateway: GatewayDep, request: Request) -> AnswerOut:
    """The viewer's offer in, the gateway's answer out, in one round trip."""
    session = await new_session(gateway, offer.camera_id, offer.overlay, request)
    try:
        answer = await gateway.sessions.answer(session, offer.sdp)
    except SignallingError as e:
        await gateway.sessions.close(session.id, f"bad offer: {e}")
        raise HTTPException(status_code=400, detail=str(e)) from None
    return AnswerOut(session_id=session.id, sdp=answer.sdp, token=session.token)


@router.post("/api/webrtc/answer", responses=IN_SESSION | BAD_SDP)
async def client_answer(answer: AnswerIn, gateway: GatewayDep) -> dict[str, str]:
    """The viewer's answer to the gateway's offer (from POST /api/webrtc/stream/{id} with server_offer)."""
    session = session_or_error(gateway, answer.session_id, answer.token)
    try:
        await gateway.sessions.accept_answer(session, answer.sdp)
    except SignallingError as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    return {"session_id": session.id, "status": "answered"}


@router.post("/api/webrtc/candidate", responses=IN_SESSION | BAD_SDP)
async def client_candidate(candidate: CandidateIn, gateway: GatewayDep) -> dict[str, str]:
    """A trickled ICE candidate of the viewer: {"candidate": "candidate:...", "sdpMid": "0", "sdpMLineIndex": 0}."""
    session = session_or_error(gateway, candidate.session_id, candidate.token)
    try:
        await gateway.sessions.add_candidate(session, candidate.candidate)
    except SignallingError as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    return {"session_id": session.id, "status": "added"}


@router.delete("/api/webrtc/sessions/{session_id}", status_code=204, responses=IN_SESSION)
async def end_session(session_id: SessionId, token: str, gateway: GatewayDep) -> None:
    """Hang up."""
    session_or_error(gateway, session_id, token)
    await gateway.sessions.close(session_id, "viewer hung up")


@router.websocket("/ws/webrtc/{session_id}")
async def signalling(websocket: WebSocket, session_id: str, token: str | None = None) -> None:
    """JSON messages both ways: offer, answer, candidate, error, bye; {"type": "request-offer"} asks for ours;
    {"type": "detections", "on": true} has the analyzer's boxes sent as they come (the browser draws them)."""
    gateway = gateway_of(websocket)
    await websocket.accept()
    try:
        session = gateway.sessions.get(session_id, token)
    except KeyError:
        await websocket.close(code=4404, reason="no such session")  # a reason is at most 123 bytes
        return
    except PermissionError:
        await websocket.close(code=4403, reason="wrong or missing session token")
        return
    boxes: asyncio.Task[None] | None = None
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            reply = await _handle(gateway, session, message.get("text"))
            if reply is None:
                break
            if reply.get("type") == "detections":  # the viewer's browser draws the boxes: send them as they come
                if boxes is not None:
                    boxes.cancel()
                boxes = asyncio.create_task(_send_detections(gateway, session, websocket)) if reply["on"] else None
                continue
            if reply:
                await websocket.send_text(json.dumps(reply))
    except WebSocketDisconnect:  # the viewer hung up while we wrote: not an error
        pass
    finally:
        if boxes is not None:
            boxes.cancel()
        await gateway.sessions.close(session.id, "signalling closed")
        await _close_quietly(websocket)


async def _send_detections(gateway: Gateway, session: Session, websocket: WebSocket) -> None:
    """Every analysis of the session's camera, as a {"type": "detections", ...} message."""
    hub = gateway.hubs.detections[session.camera_id]
    listener = hub.listen()
    try:
        while True:
            record = await listener.get()
            await websocket.send_text(json.dumps(detections_message(record)))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the viewer went away
    finally:
        hub.leave(listener)


def detections_message(record: FrameDetections) -> dict[str, Any]:
    """What a browser needs to draw an analysis: boxes in the analysed frame's pixels."""

    def box(b: Box) -> dict[str, int]:
        return {"x": b.x, "y": b.y, "w": b.w, "h": b.h}

    return {
        "type": "detections", "capturedAt": record.captured_at_s, "analysedAt": record.analysed_at_s,
        "width": record.width, "height": record.height, "motion": [box(b) for b in record.motion],
        "objects": [{"label": o.label, "score": round(o.score, 3), "box": box(o.box)} for o in record.objects],
    }  # fmt: skip


async def _handle(gateway: Gateway, session: Session, text: str | None) -> dict[str, Any] | None:
    """The reply to one message ({} for none), or None to hang up."""
    try:
        message = _parse(text)
        kind = message["type"]
        if kind == "bye":
            return None
        if kind == "request-offer":
            offer = await gateway.sessions.server_offer(session)
            return {"type": "offer", "sdp": offer.sdp}
        if kind in ("offer", "answer") and not (isinstance(message.get("sdp"), str) and len(message["sdp"]) <= MAX_SDP):
            raise SignallingError(f"{kind}.sdp must be a string of at most {MAX_SDP} characters")
        if kind == "offer":
            answer = await gateway.sessions.answer(session, message["sdp"])
            return {"type": "answer", "sdp": answer.sdp}
        if kind == "detections":  # {"type": "detections", "on": true}: boxes for the browser to draw
            return {"type": "detections", "on": message.get("on") is True}
        if kind == "answer":
            await gateway.sessions.accept_answer(session, message["sdp"])
        elif kind == "candidate":
            candidate = message.get("candidate")
            if not isinstance(candidate, dict):
                raise SignallingError("candidate must be an object")
            await gateway.sessions.add_candidate(session, candidate)
        else:
            raise SignallingError(f"unknown message type {kind[:40]!r}")
        return {}
    except SignallingError as e:
        return {"type": "error", "message": str(e)}


def _parse(text: str | None) -> dict[str, Any]:
    """A signalling message: a small, shallow JSON object with a string "type"."""
    if text is None:
        raise SignallingError("messages are JSON text frames, not binary")
    if len(text) > MAX_MESSAGE:
        raise SignallingError(f"message larger than {MAX_MESSAGE} characters")
    if json_depth(text) > MAX_JSON_DEPTH:  # a 100k-deep array would take the parser into recursion
        raise SignallingError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SignallingError(f"not JSON: {e}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise SignallingError('a message is a JSON object with a "type"')
    return message


async def _close_quietly(websocket: WebSocket) -> None:
    states = (websocket.application_state, websocket.client_state)
    if WebSocketState.DISCONNECTED not in states:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):  # the viewer hung up meanwhile
            await websocket.close(code=1000, reason="bye")
