"""What the two signalling doors (WebRTC's own, routes/webrtc.py, and WHEP, routes/whep.py) share:
a new session for a camera, within its caps, and a session looked up by id and token, as HTTP
answers (404, 403, 409, 429)."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path, Request

from gateway.auth.deps import client_of, signed_in
from gateway.state import Gateway
from gateway.webrtc.sessions import Session, TooManySessions

MAX_SDP = 32768
SESSION_ID = r"^\d{1,9}_\d{1,20}$"
SessionId = Annotated[str, Path(max_length=40, pattern=SESSION_ID, description="`{camera_id}_{n}`")]


async def new_session(gateway: Gateway, camera_id: int, overlay: bool, request: Request) -> Session:
    camera = gateway.camera(camera_id)
    if not camera.enabled:
        raise HTTPException(status_code=409, detail=f"camera {camera_id} is disabled")
    client = client_of(request)
    principal = await signed_in(request)  # the session ends when this credential is revoked
    try:
        gateway.sessions.check_capacity(client, principal.user_id)  # before the counter: a refusal costs nothing
        n = await gateway.store.next_session_number()
        return await gateway.sessions.create(f"{camera_id}_{n}", camera_id, overlay, client, principal)
    except TooManySessions as e:
        raise HTTPException(status_code=429, detail=str(e), headers={"Retry-After": "5"}) from None


def session_or_error(gateway: Gateway, session_id: str, token: str | None) -> Session:
    """The session, or a 404 (unknown) or 403 (wrong token)."""
    try:
        return gateway.sessions.get(session_id, token)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no session {session_id}") from None
    except PermissionError:
        raise HTTPException(status_code=403, detail="wrong or missing session token") from None
