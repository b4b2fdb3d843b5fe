"""The camera API (the list, one camera, stream status), the latest picture, and an MJPEG fallback
for networks without WebRTC."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from gateway.auth.deps import PrincipalDep
from gateway.auth.revocation import until_revoked
from gateway.bus.fanout import Fanout, Listener, TooManyListeners
from gateway.bus.hubs import Frame
from gateway.models import CameraId, CameraOut, PipelineOut, SessionOut, StreamsStatus
from gateway.state import GatewayDep
from shared.cameras import Camera
from shared.db.engine import DatabaseUnavailable
from shared.status import CameraState, CameraStatus

router = APIRouter(tags=["cameras"])


def _camera_out(camera: Camera, status: CameraStatus | None, owner: str | None) -> CameraOut:
    return CameraOut(
        id=camera.id,
        name=camera.name,
        location=camera.location,
        channel=camera.channel,
        enabled=camera.enabled,
        status=status.state if status else CameraState.OFFLINE,
        analysis_enabled=camera.enabled and camera.analysis.enabled,
        webrtc_url=f"/api/webrtc/stream/{camera.id}",
        snapshot_url=f"/api/cameras/{camera.id}/snapshot.jpg",
        mjpeg_url=f"/api/cameras/{camera.id}/mjpeg",
        fps=status.fps if status else None,
        target_fps=camera.fps,
        width=status.width if status else None,
        height=status.height if status else None,
        last_frame_at=status.last_frame_at_s if status else None,
        last_error=status.last_error if status else None,
        analyzer=owner,
    )


@router.get("/api/cameras", response_model=list[CameraOut])
async def list_cameras(gateway: GatewayDep) -> list[CameraOut]:
    """Every camera with its live status. Source URLs (and their credentials) are never shown."""
    statuses, owners = await gateway.store.cameras_and_owners([c.id for c in gateway.cameras.cameras])
    return [_camera_out(c, statuses.get(c.id), owners.get(c.id)) for c in gateway.cameras.cameras]


@router.get("/api/cameras/{camera_id}", response_model=CameraOut, responses={404: {"description": "Unknown camera"}})
async def get_camera(camera_id: CameraId, gateway: GatewayDep) -> CameraOut:
    camera = gateway.camera(camera_id)
    statuses, owners = await gateway.store.cameras_and_owners([camera_id])
    return _camera_out(camera, statuses.get(camera_id), owners.get(camera_id))


@router.get(
    "/api/cameras/{camera_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "Unknown camera"},
               503: {"description": "No recent frame"}},
)  # fmt: skip
async def camera_snapshot(camera_id: CameraId, gateway: GatewayDep) -> Response:
    """The camera's latest frame as JPEG."""
    gateway.camera(camera_id)
    latest = await gateway.store.latest_frame(camera_id)
    if latest is None:
        raise HTTPException(status_code=503, detail=f"camera {camera_id} has no recent frame (is it offline?)")
    return Response(latest[1].jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get(
    "/api/cameras/{camera_id}/mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {"multipart/x-mixed-replace; boundary=frame": {}}},
               404: {"description": "Unknown camera"}},
)  # fmt: skip
async def camera_mjpeg(
    camera_id: CameraId, request: Request, gateway: GatewayDep, principal: PrincipalDep,
    fps: Annotated[float, Query(gt=0, le=30, description="Most frames per second to send")] = 10.0,
) -> StreamingResponse:  # fmt: skip
    """Live MJPEG, for networks where WebRTC cannot connect. Put the URL in an <img>.

    Every client of a camera shares one reader; a slow client skips to the newest frame.
    The stream pauses while Redis is away and goes on by itself when it is back."""
    gateway.camera(camera_id)
    frames = gateway.hubs.frames[camera_id]
    try:
        listener = frames.listen()
    except TooManyListeners:
        raise HTTPException(status_code=503, detail=f"camera {camera_id} has too many live viewers") from None
    return StreamingResponse(
        _mjpeg(frames, listener, request, 1.0 / fps, functools.partial(until_revoked, gateway.auth, principal)),
        media_type="multipart/x-mixed-replace; boundary=frame",
    )


async def _mjpeg(
    frames: Fanout[Frame], listener: Listener[Frame], request: Request, interval_s: float,
    revocation: Callable[[], Coroutine[Any, Any, None]],
) -> AsyncIterator[bytes]:  # fmt: skip
    """Frames until the viewer goes away or their credential is revoked (the stream just ends)."""
    revoked = asyncio.create_task(revocation())
    getting: asyncio.Future[Frame] | None = None  # one read at a time, kept until a frame comes
    try:
        while not revoked.done() and not await request.is_disconnected():
            getting = getting or asyncio.ensure_future(listener.get())
            waiting: set[asyncio.Future[Any]] = {getting, revoked}
            done, _ = await asyncio.wait(waiting, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                continue  # waited a second: is the viewer still there?
            _entry_id, frame = getting.result()
            getting = None
            yield _part(frame.jpeg)
            await asyncio.wait({revoked}, timeout=interval_s)
    finally:
        frames.leave(listener)
        # Cancelled, never dropped pending (a pending read would be destroyed with its listener).
        for task in (revoked, getting):
            if task is not None:
                task.cancel()


def _part(jpeg: bytes) -> bytes:
    return b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(jpeg), jpeg)


@router.get("/api/streams/status", response_model=StreamsStatus)
async def streams_status(gateway: GatewayDep) -> StreamsStatus:
    """Active WebRTC sessions, and each camera's pipeline: ingest state and fps, analyzer owner, lag, skips."""
    ids = [c.id for c in gateway.cameras.cameras]
    statuses, _owners = await gateway.store.cameras_and_owners(ids)
    analysis = {
        int(cid): (w.worker_id, counters) for w in await gateway.store.workers() for cid, counters in w.cameras.items()
    }
    kept: dict[int, tuple[int, int, int]] = {}
    with contextlib.suppress(SQLAlchemyError, DatabaseUnavailable):  # the live status needs only Redis
        kept = await gateway.recordings.summary()
    pipelines = []
    for camera_id in ids:
        status = statuses.get(camera_id)
        worker, counters = analysis.get(camera_id, (None, None))
        pipelines.append(PipelineOut(
            camera_id=camera_id,
            ingest_state=status.state if status else CameraState.OFFLINE,
            ingest_fps=status.fps if status else None,
            ingest_frame_fps=status.frame_fps if status else None,
            frames_dropped=status.frames_dropped if status else None,
            analyzer=worker,
            analyzer_lag_ms=counters.lag_ms if counters else None,
            frames_skipped=counters.frames_skipped if counters else None,
            recording=(status.recording or "off") if status else CameraState.OFFLINE,
            recording_error=status.recording_error if status else None,
            recorded_bytes=kept.get(camera_id, (0, 0, 0))[0],
            oldest_recording=kept[camera_id][2] / 1000 if camera_id in kept else None,
        ))  # fmt: skip
    sessions = [
        SessionOut(session_id=s.id, camera_id=s.camera_id, connection_state=s.state, created_at=s.created_at_s,
                   frames_sent=s.track.frames_sent, overlay=s.overlay, codec="H264", mode=s.track.mode,
                   audio=s.audio.mode if s.audio is not None else None)
        for s in gateway.sessions.sessions.values()
    ]  # fmt: skip
    return StreamsStatus(sessions=sessions, cameras=pipelines)
