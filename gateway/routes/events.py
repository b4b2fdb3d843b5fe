"""Events: history with filters and pages, one event, its snapshot, and a live WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import Response

from gateway.models import EventsPage
from gateway.state import GatewayDep, get_gateway
from shared import keys
from shared.detections import EventType

router = APIRouter(tags=["events"])


@router.get("/api/events", response_model=EventsPage)
async def list_events(
    gateway: GatewayDep,
    camera: Annotated[int | None, Query(description="Only this camera's events")] = None,
    type: Annotated[EventType | None, Query(description="motion, person or face")] = None,
    since: Annotated[float | None, Query(description="Started at or after this Unix time")] = None,
    until: Annotated[float | None, Query(description="Started at or before this Unix time")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d+-\d+$", description="nextCursor of the previous page")] = None,
) -> EventsPage:
    """Events, newest first, each in its latest state (an `end` message once it is over)."""
    if camera is not None:
        gateway.camera(camera)
    if since is not None and until is not None and since > until:
        raise HTTPException(status_code=400, detail="since is after until")
    events, next_cursor = await gateway.store.events(camera, type, since, until, limit, cursor)
    return EventsPage(events=[_public(e.encode()) for e in events], next_cursor=next_cursor)


@router.get("/api/events/{event_id}", responses={404: {"description": "Unknown or expired event"}})
async def get_event(event_id: str, gateway: GatewayDep) -> dict[str, Any]:
    event = await gateway.store.event(event_id)
    if event is None:
        raise HTTPException(status_code=404, detail=f"no event {event_id} (unknown, or expired)")
    return _public(event.encode())


@router.get(
    "/api/events/{event_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "No snapshot"}},
)
async def event_snapshot(event_id: str, gateway: GatewayDep) -> Response:
    snapshot = await gateway.store.snapshot(event_id)
    if snapshot is None:
        raise HTTPException(status_code=404, detail=f"no snapshot for event {event_id}")
    return Response(snapshot, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.websocket("/ws/events")
async def live_events(websocket: WebSocket, camera: int | None = None) -> None:
    """Every event message as it is published (JSON text frames); `?camera=ID` for one camera."""
    gateway = get_gateway(websocket)  # type: ignore[arg-type]
    await websocket.accept()  # before any close, so that the client gets its code and reason
    if camera is not None and gateway.cameras.camera(camera) is None:
        await websocket.close(code=4404, reason=f"no camera with id {camera}")
        return
    channel = keys.camera_events_channel(camera) if camera is not None else keys.EVENTS_CHANNEL
    pubsub = gateway.client.pubsub()
    await pubsub.subscribe(channel)
    receiving = asyncio.create_task(_until_closed(websocket))
    try:
        while not receiving.done():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                await websocket.send_text(message["data"].decode())
    except WebSocketDisconnect:
        pass
    finally:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiving
        await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()


def _public(text: str) -> dict[str, Any]:
    import json  # noqa: PLC0415

    record: dict[str, Any] = json.loads(text)
    record["snapshotUrl"] = f"/api/events/{record['id']}/snapshot.jpg" if record.get("snapshot") else None
    return record
