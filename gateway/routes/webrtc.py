"""WebRTC signalling: HTTP (one round trip, or server offer then answer) and a WebSocket."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from gateway.state import Gateway, GatewayDep, get_gateway
from gateway.webrtc.sessions import Session, SignallingError
from shared import keys

router = APIRouter(tags=["webrtc"])

MAX_SDP = 32768


class StreamRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlay: bool = Field(default=False, description="Draw the analyzer's detections on the video.")
    server_offer: bool = Field(
        default=False, description="Include the gateway's SDP offer (for POST /api/webrtc/answer)."
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


async def _new_session(gateway: Gateway, camera_id: int, overlay: bool) -> Session:
    camera = gateway.camera(camera_id)
    if not camera.enabled:
        raise HTTPException(status_code=409, detail=f"camera {camera_id} is disabled")
    n = await gateway.client.incr(keys.webrtc_session_counter())
    return await gateway.sessions.create(f"{camera_id}_{n}", camera_id, overlay)


def _session(gateway: Gateway, session_id: str, token: str | None) -> Session:
    try:
        return gateway.sessions.get(session_id, token)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no session {session_id}") from None
    except PermissionError:
        raise HTTPException(status_code=403, detail="wrong or missing session token") from None


@router.post("/api/webrtc/stream/{camera_id}", status_code=201, response_model=StreamCreated)
async def create_stream(
    camera_id: int, gateway: GatewayDep, request: Annotated[StreamRequest | None, Body()] = None
) -> StreamCreated:
    """Start a session; negotiate over the signalling WebSocket (or HTTP with server_offer)."""
    options = request or StreamRequest()
    session = await _new_session(gateway, camera_id, options.overlay)
    offer = None
    if options.server_offer:
        description = await gateway.sessions.server_offer(session)
        offer = {"sdp": description.sdp, "type": description.type}
    url = f"/ws/webrtc/{session.id}?token={session.token}"
    return StreamCreated(session_id=session.id, token=session.token, signaling_url=url, offer=offer)


@router.post("/api/webrtc/offer", response_model=AnswerOut)
async def client_offer(offer: OfferIn, gateway: GatewayDep) -> AnswerOut:
    """The viewer's offer in, the gateway's answer out, in one round trip."""
    session = await _new_session(gateway, offer.camera_id, offer.overlay)
    try:
        answer = await gateway.sessions.answer(session, offer.sdp)
    except SignallingError as e:
        await gateway.sessions.close(session.id, f"bad offer: {e}")
        raise HTTPException(status_code=400, detail=str(e)) from None
    return AnswerOut(session_id=session.id, sdp=answer.sdp, token=session.token)


@router.post("/api/webrtc/answer")
async def client_answer(answer: AnswerIn, gateway: GatewayDep) -> dict[str, str]:
    """The viewer's answer to the gateway's offer (from POST /api/webrtc/stream/{id} with server_offer)."""
    session = _session(gateway, answer.session_id, answer.token)
    try:
        await gateway.sessions.accept_answer(session, answer.sdp)
    except SignallingError as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    return {"session_id": session.id, "status": "answered"}


@router.post("/api/webrtc/candidate")
async def client_candidate(candidate: CandidateIn, gateway: GatewayDep) -> dict[str, str]:
    """A trickled ICE candidate of the viewer: {"candidate": "candidate:...", "sdpMid": "0", "sdpMLineIndex": 0}."""
    session = _session(gateway, candidate.session_id, candidate.token)
    try:
        await gateway.sessions.add_candidate(session, candidate.candidate)
    except SignallingError as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    return {"session_id": session.id, "status": "added"}


@router.delete("/api/webrtc/sessions/{session_id}", status_code=204)
async def end_session(session_id: str, token: str, gateway: GatewayDep) -> None:
    """Hang up."""
    _session(gateway, session_id, token)
    await gateway.sessions.close(session_id, "viewer hung up")


@router.websocket("/ws/webrtc/{session_id}")
async def signalling(websocket: WebSocket, session_id: str, token: str | None = None) -> None:
    """JSON messages both ways: offer, answer, candidate, error, bye; {"type": "request-offer"} asks for ours."""
    gateway = get_gateway(websocket)  # type: ignore[arg-type]
    await websocket.accept()
    try:
        session = gateway.sessions.get(session_id, token)
    except KeyError:
        await websocket.close(code=4404, reason=f"no session {session_id}")
        return
    except PermissionError:
        await websocket.close(code=4403, reason="wrong or missing session token")
        return
    try:
        while True:
            text = await websocket.receive_text()
            reply = await _handle(gateway, session, text)
            if reply is None:
                break
            if reply:
                await websocket.send_text(json.dumps(reply))
    except WebSocketDisconnect:
        pass
    finally:
        await gateway.sessions.close(session.id, "signalling closed")
    await _close_quietly(websocket)


async def _handle(gateway: Gateway, session: Session, text: str) -> dict[str, Any] | None:
    """The reply to one message ({} for none), or None to hang up."""
    try:
        message = json.loads(text)
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise SignallingError('a message is a JSON object with a "type"')
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
        if kind == "answer":
            await gateway.sessions.accept_answer(session, message["sdp"])
            return {}
        if kind == "candidate":
            candidate = message.get("candidate")
            if not isinstance(candidate, dict):
                raise SignallingError("candidate must be an object")
            await gateway.sessions.add_candidate(session, candidate)
            return {}
        raise SignallingError(f"unknown message type {kind!r}")
    except (json.JSONDecodeError, SignallingError) as e:
        return {"type": "error", "message": f"not JSON: {e}" if isinstance(e, json.JSONDecodeError) else str(e)}


async def _close_quietly(websocket: WebSocket) -> None:
    with contextlib.suppress(RuntimeError):  # already closed by the viewer
        await websocket.close(code=1000, reason="bye")
