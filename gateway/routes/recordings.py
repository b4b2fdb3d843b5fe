"""Recordings: the recorded ranges with their event and motion markers, and clips as MP4 (a range
of a camera, or an event with its pre- and post-capture). Everyone signed in may play and export."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from gateway.clips import MB, NoFootage, NoRoom, cached_or_made
from gateway.coverage import MAX_RANGES, MERGE_GAP_S, camera_coverage, judged_until
from gateway.footage import Unreachable
from gateway.models import (
    CameraCoverageOut,
    CameraId,
    CoverageDayOut,
    CoverageGapOut,
    CoverageOut,
    RecordedRange,
    RecordingsOut,
    TimelineMarker,
)
from gateway.state import Gateway, GatewayDep
from shared.cameras import MAX_CAMERA_ID, Camera
from shared.db.recordings import Marker
from shared.disk_floor import floor_bytes

router = APIRouter(tags=["recordings"])

LATEST_TIME_S = 1e11
LIST_MAX_S = 31 * 86400
MP4 = {200: {"content": {"video/mp4": {}}}, 400: {"description": "end before start, or longer than a clip may be"},
       413: {"description": "more footage than the clip cache holds"},
       507: {"description": "the disk cannot take the clip without going below the recordings' free-space floor"},
       404: {"description": "no such camera or event, or no footage"},
       503: {"description": "the footage is on another host whose recorder cannot be reached"}}  # fmt: skip
Time = Annotated[float, Query(ge=0, le=LATEST_TIME_S, allow_inf_nan=False, description="Unix time, seconds")]


@router.get("/api/recordings", response_model=RecordingsOut, responses={
    400: {"description": "since after until, or more than 31 days"}, 404: {"description": "Unknown camera"},
})  # fmt: skip
async def list_recordings(
    gateway: GatewayDep,
    camera_id: Annotated[int | None, Query(ge=1, le=MAX_CAMERA_ID, description="Only this camera's recordings")] = None,
    since: Time | None = None,
    until: Time | None = None,
) -> RecordingsOut:
    """Recorded ranges (contiguous segments merged), oldest first, each with the events and motion in
    it. Without `since`/`until`: the last 24 hours; at most 31 days at once."""
    if camera_id is not None:
        gateway.camera(camera_id)
    until = until if until is not None else time.time()
    since = since if since is not None else until - 86400
    if since >= until:
        raise HTTPException(status_code=400, detail="since must be before until")
    if until - since > LIST_MAX_S:
        raise HTTPException(status_code=400, detail="at most 31 days at once: narrow since/until")
    found = await gateway.recordings.ranges(camera_id, int(since * 1000), int(until * 1000),
                                            int(MERGE_GAP_S * 1000), MAX_RANGES + 1)  # fmt: skip
    if len(found) > MAX_RANGES:
        raise HTTPException(status_code=400, detail=f"more than {MAX_RANGES} recorded ranges: narrow since/until "
                            "or ask for one camera")  # fmt: skip
    markers = await gateway.recordings.markers(camera_id, since, until)
    ranges = [RecordedRange(camera_id=c, start=a / 1000, end=b / 1000, bytes=n, events=[], motion=[])
              for c, a, b, n in found]  # fmt: skip
    return RecordingsOut(recordings=[_with_markers(r, markers) for r in ranges])


@router.get("/api/recordings/coverage", response_model=CoverageOut, responses={
    400: {"description": "since after until, or more than 31 days"}, 404: {"description": "Unknown camera"},
})  # fmt: skip
async def recording_coverage(
    gateway: GatewayDep,
    camera_id: Annotated[int | None, Query(ge=1, le=MAX_CAMERA_ID, description="Only this camera")] = None,
    since: Time | None = None,
    until: Time | None = None,
) -> CoverageOut:
    """Of the time each camera's recording mode asked for footage, how much is kept, per UTC day, and
    the gaps with their cause where known (the camera offline, the disk full). Without `since`/`until`:
    the last 24 hours; at most 31 days. The segment being written is not indexed yet, so the window
    ends a segment's length before now at the latest."""
    cameras = [gateway.camera(camera_id)] if camera_id is not None else list(gateway.cameras.cameras)
    now = time.time()
    until = min(until if until is not None else now, judged_until(gateway.settings, now))
    since = since if since is not None else until - 86400
    if since >= until:
        raise HTTPException(status_code=400, detail="since must be before until (and before the segment being written)")
    if until - since > LIST_MAX_S:
        raise HTTPException(status_code=400, detail="at most 31 days at once: narrow since/until")
    out = [await _camera_coverage(gateway, camera, since, until) for camera in cameras]
    return CoverageOut(since=since, until=until, cameras=out)


async def _camera_coverage(gateway: Gateway, camera: Camera, since: float, until: float) -> CameraCoverageOut:
    added = await gateway.camera_store.added_at(camera.id)
    result = await camera_coverage(gateway.recordings, camera, since, until, added)
    return CameraCoverageOut(
        camera_id=camera.id, mode=result.mode, required=round(result.required_s, 3), kept=round(result.kept_s, 3),
        fraction=result.fraction,
        days=[CoverageDayOut(day=d.day, required=round(d.required_s, 3), kept=round(d.kept_s, 3),
                             fraction=min(1.0, d.kept_s / d.required_s) if d.required_s > 0 else None)
              for d in result.days],
        gaps=[CoverageGapOut(start=g.start_s, end=g.end_s, cause=g.cause) for g in result.gaps],
    )  # fmt: skip


def _with_markers(recorded: RecordedRange, markers: list[tuple[int, Marker]]) -> RecordedRange:
    for camera_id, marker in markers:
        end = marker.end_s if marker.end_s is not None else time.time()
        if camera_id != recorded.camera_id or marker.start_s > recorded.end or end < recorded.start:
            continue
        out = TimelineMarker(id=marker.id, type=marker.type, start=marker.start_s, end=marker.end_s)
        (recorded.motion if marker.type == "motion" else recorded.events).append(out)
    return recorded


@router.get("/api/cameras/{camera_id}/clip.mp4", response_class=FileResponse, responses=MP4)  # type: ignore[arg-type]
async def camera_clip(camera_id: CameraId, start: Time, end: Time, gateway: GatewayDep) -> FileResponse:
    """The range as one MP4 (stream copy), from the keyframe at or before `start`; seekable (HTTP Range)."""
    gateway.camera(camera_id)
    return await _clip(gateway, camera_id, start, end, f"camera-{camera_id}-{int(start)}-{int(end)}.mp4")


@router.get("/api/events/{event_id}/clip.mp4", response_class=FileResponse, responses=MP4)  # type: ignore[arg-type]
async def event_clip(event_id: str, gateway: GatewayDep) -> FileResponse:
    """The event's footage with the camera's pre- and post-capture (record.pre_s / post_s)."""
    if len(event_id) > 64:
        raise HTTPException(status_code=404, detail="no such event")
    event = await gateway.history.get(event_id)
    if event is None:
        raise HTTPException(status_code=404, detail=f"no event {event_id}")
    camera = gateway.cameras.camera(event.camera_id)
    pre_s, post_s = (camera.record.pre_s, camera.record.post_s) if camera else (5.0, 5.0)
    ended = event.ended_at_s if event.ended_at_s is not None else time.time()
    start, end = event.started_at_s - pre_s, ended + post_s
    end = min(end, start + gateway.settings.clip_max_s)
    return await _clip(gateway, event.camera_id, start, end, f"event-{event_id}.mp4")


async def _clip(gateway: Gateway, camera_id: int, start: float, end: float, name: str) -> FileResponse:
    if end <= start:
        raise HTTPException(status_code=400, detail="end must be after start")
    if end - start > gateway.settings.clip_max_s:
        raise HTTPException(status_code=400, detail=f"a clip is at most {gateway.settings.clip_max_s:g} s long")
    segments = await gateway.recordings.between(camera_id, int(start * 1000), int(end * 1000))
    if not segments:
        raise HTTPException(status_code=404, detail=f"no recording of camera {camera_id} between {start:.3f} and "
                            f"{end:.3f}")  # fmt: skip
    cache, settings = gateway.settings.data_dir / "clips", gateway.settings
    source = await gateway.footage.source()
    try:
        async with gateway.clip_maker:  # one at a time: the cache's bounds hold, and threads stay free
            path = await asyncio.to_thread(
                cached_or_made, cache, source, segments, camera_id, start, end,
                round(settings.clip_cache_mb * MB), floor_bytes(settings, settings.recordings_root),
            )  # fmt: skip
    except NoFootage as e:
        raise HTTPException(status_code=404, detail=f"camera {camera_id}: {e}") from None
    except NoRoom as e:
        raise HTTPException(status_code=e.status, detail=str(e)) from None
    except Unreachable as e:
        raise HTTPException(status_code=503, detail=str(e)) from None
    return FileResponse(path, media_type="video/mp4", filename=name, content_disposition_type="inline")
