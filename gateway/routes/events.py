"""Events: history (from the database) with filters and pages, one event, its snapshot, and a
live WebSocket (from Redis)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketState

from gateway.auth.deps import signed_in
from gateway.auth.revocation import REVOKED_CLOSE_CODE, until_revoked
from gateway.bus.fanout import TooManyListeners
from gateway.models import EventOut, EventsPage
from gateway.state import GatewayDep, gateway_of
from shared.cameras import MAX_CAMERA_ID
from shared.db.events import Cursor
from shared.detections import Event, EventType
from shared.labels import EVENT_LABELS

router = APIRouter(tags=["events"])

# Times are Unix seconds; past year 5138 is a mistake. Cursors are `{started_us}-{seq}`, two
# numbers a 64-bit database column holds.
LATEST_TIME_S = 1e11
CURSOR_PART_MAX = 2**63 - 1


def _cursor(cursor: str | None) -> Cursor | None:
    if cursor is None:
        return None
    parts = cursor.split("-")
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 19 and int(p) <= CURSOR_PART_MAX for p in parts):
        raise HTTPException(status_code=422, detail="cursor must be a nextCursor from a previous page")
    return int(parts[0]), int(parts[1])


class EventsQuery(BaseModel):
    """The filters and page of `GET /api/events`, as one object (hashable: the page cache's key)."""

    model_config = ConfigDict(frozen=True)

    camera: int | None = Field(None, ge=1, le=MAX_CAMERA_ID, description="Only this camera's events")
    type: EventType | None = Field(
        None,
        description="motion, person, face, object, recording_gap, offline, tamper, line_crossed, zone_entered, "
        "zone_left or loitering",
    )
    since: float | None = Field(None, ge=0, le=LATEST_TIME_S, allow_inf_nan=False,
                                description="Started at or after (Unix time)")  # fmt: skip
    until: float | None = Field(None, ge=0, le=LATEST_TIME_S, allow_inf_nan=False,
                                description="Started at or before (Unix time)")  # fmt: skip
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=41, description="nextCursor of the previous page")
    identity: str | None = Field(None, max_length=100, description="Only faces recognised as this person")
    label: str | None = Field(None, max_length=40, description="Only what was seen: person, face, car, dog, ...")


@router.get("/api/events", response_model=EventsPage, responses={
    400: {"description": "since is after until"}, 404: {"description": "Unknown camera"}})  # fmt: skip
async def list_events(gateway: GatewayDep, query: Annotated[EventsQuery, Query()]) -> Response:
    """Events, newest first, each in its latest state (`phase` end once it is over).

    A page may be up to a tenth of a second old: identical requests share one database query."""
    if query.camera is not None:
        gateway.camera(query.camera)
    if query.since is not None and query.until is not None and query.since > query.until:
        raise HTTPException(status_code=400, detail="since is after until")
    after = _cursor(query.cursor)
    if query.label is not None and query.label not in EVENT_LABELS:
        raise HTTPException(status_code=422, detail="label must be person, face or one of the object model's labels")

    async def load() -> bytes:
        events, next_page = await gateway.history.page(query.camera, query.type, query.since, query.until, query.limit,
                                                       after, query.identity, query.label)  # fmt: skip
        next_cursor = f"{next_page[0]}-{next_page[1]}" if next_page is not None else None
        return EventsPage(events=[EventOut.of(e) for e in events], next_cursor=next_cursor).model_dump_json().encode()

    # Every dashboard polls the same first page: one query serves them all for PAGE_CACHE_S.
    page = await gateway.pages.get(query, load)
    return Response(page, media_type="application/json")


@router.get(
    "/api/events/{event_id}",
    response_model=EventOut,
    responses={404: {"description": "Unknown, or deleted by retention"}},
)
async def get_event(event_id: str, gateway: GatewayDep) -> EventOut:
    event = await gateway.history.get(event_id)
    if event is None:
        raise HTTPException(
            status_code=404, detail=f"no event {event_id[:80]} (unknown, or older than the retention period)"
        )
    return EventOut.of(event)


@router.get(
    "/api/events/{event_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "No snapshot"}},
)
async def event_snapshot(event_id: str, gateway: GatewayDep) -> Response:
    snapshot = await gateway.history.snapshot(event_id)
    if snapshot is None:
        raise HTTPException(status_code=404, detail=f"no snapshot for event {event_id[:80]}")
    return Response(snapshot, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.websocket("/ws/events")
async def live_events(
    websocket: WebSocket, camera: Annotated[int | None, Query(ge=1, le=MAX_CAMERA_ID)] = None
) -> None:
    """Every event as it is published, as /api/events shows it (JSON text frames); `?camera=ID` for one camera.

    All clients share the gateway's one subscription; a client that reads too slowly loses its
    oldest events rather than holding anything up. What a client sends is read and ignored."""
    gateway = gateway_of(websocket)
    await websocket.accept()  # before any close, so that the client gets its code and reason
    if camera is not None and gateway.cameras.camera(camera) is None:
        await websocket.close(code=4404, reason=f"no camera with id {camera}"[:120])
        return
    try:
        listener = gateway.hubs.events.listen()
    except TooManyListeners:
        await websocket.close(code=1013, reason="too many event listeners; try again later")
        return
    receiving = asyncio.create_task(_until_closed(websocket))
    revoked = asyncio.create_task(until_revoked(gateway.auth, await signed_in(websocket)))
    getting: asyncio.Future[Event] | None = None
    try:
        while not receiving.done():
            getting = asyncio.ensure_future(listener.get())
            done, _ = await asyncio.wait({getting, receiving, revoked}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                if revoked in done:
                    await websocket.close(code=REVOKED_CLOSE_CODE, reason="credentials revoked; log in again")
                break
            event = getting.result()
            if camera is None or event.camera_id == camera:
                await websocket.send_text(EventOut.of(event).model_dump_json(by_alias=True))
    except (OSError, RuntimeError, WebSocketDisconnect):  # the client went away while we wrote
        pass
    finally:
        gateway.hubs.events.leave(listener)
        if getting is not None:  # cancelled, never dropped pending (it would be destroyed with the listener)
            getting.cancel()
        for task in (receiving, revoked):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if WebSocketState.DISCONNECTED not in (websocket.application_state, websocket.client_state):
            with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
                await websocket.close()


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) whatever the client sends, text or binary, until it closes."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
