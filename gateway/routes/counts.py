"""Counts of what the rules saw (analysis.lines and analysis.zones; docs/rules.md): each line's
crossings each way and each zone's entries and loiterings per bucket of time, from the event
history (so they survive restarts), and each zone's occupancy now, from the worker analysing the
camera."""

from __future__ import annotations

import math
import re
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from gateway.models import ApiModel
from gateway.state import GatewayDep
from shared.cameras import MAX_CAMERA_ID
from shared.db.counts import Count

router = APIRouter(tags=["counts"])

BUCKET = re.compile(r"^([1-9][0-9]{0,4})([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_BUCKET_S, MAX_BUCKET_S = 60, 31 * 86400
MAX_BUCKETS = 5000
LATEST_TIME_S = 1e11
Time = Annotated[float, Query(ge=0, le=LATEST_TIME_S, allow_inf_nan=False, description="Unix time, seconds")]


class LineBucket(ApiModel):
    start: float
    crossed_in: int = Field(alias="in")
    crossed_out: int = Field(alias="out")


class LineCounts(ApiModel):
    name: str
    crossed_in: int = Field(alias="in")  # over the whole window
    crossed_out: int = Field(alias="out")
    buckets: list[LineBucket]


class ZoneBucket(ApiModel):
    start: float
    entered: int
    loitering: int


class ZoneCounts(ApiModel):
    name: str
    occupancy: int | None  # tracks in it now (None: no worker says: the camera is not analysed now)
    entered: int
    loitering: int
    buckets: list[ZoneBucket]


class CountsOut(ApiModel):
    camera_id: int
    since: float
    until: float
    bucket: float  # seconds
    lines: list[LineCounts]
    zones: list[ZoneCounts]


@router.get("/api/counts", response_model=CountsOut, responses={
    400: {"description": "A bad bucket or window"}, 404: {"description": "Unknown camera, zone or line"}})  # fmt: skip
async def counts(
    gateway: GatewayDep,
    camera_id: Annotated[int, Query(ge=1, le=MAX_CAMERA_ID, description="The camera")],
    name: Annotated[str | None, Query(max_length=40, description="Only this zone or line")] = None,
    since: Time | None = None,
    until: Time | None = None,
    bucket: Annotated[str, Query(max_length=6, description="5m, 15m, 1h, 1d, ...: 1 minute to 31 days")] = "1h",
) -> CountsOut:
    """Each line's crossings `in` and `out` and each zone's entries and loiterings, in buckets from
    `since` (default: 24 hours before `until`, default now), with each zone's occupancy now."""
    camera = gateway.camera(camera_id)
    bucket_s = _bucket_s(bucket)
    until_s = until if until is not None else time.time()
    since_s = since if since is not None else until_s - 86400
    if since_s >= until_s:
        raise HTTPException(status_code=400, detail="since must be before until")
    slots = math.ceil((until_s - since_s) / bucket_s)
    if slots > MAX_BUCKETS:
        raise HTTPException(status_code=400, detail=f"{slots} buckets: at most {MAX_BUCKETS} (a larger bucket, "
                                                    "or a shorter window)")  # fmt: skip
    lines = [line.name for line in camera.analysis.lines]
    zones = [zone.name for zone in camera.analysis.zones]
    found = await gateway.counts.counts(camera_id, since_s, until_s, bucket_s)
    lines += sorted({c.name for c in found if c.kind in ("in", "out")} - set(lines))  # since renamed or removed
    zones += sorted({c.name for c in found if c.kind in ("entered", "loitering")} - set(zones))
    if name is not None:
        if name not in lines and name not in zones:
            raise HTTPException(status_code=404, detail=f"camera {camera_id} has no zone or line named {name!r}")
        lines, zones = [n for n in lines if n == name], [n for n in zones if n == name]
    occupancy = await gateway.store.zone_occupancy(camera_id)
    starts = [since_s + i * bucket_s for i in range(slots)]
    return CountsOut(
        camera_id=camera_id, since=since_s, until=until_s, bucket=bucket_s,
        lines=[_line(n, found, starts) for n in lines],
        zones=[_zone(n, found, starts, occupancy.zones.get(n) if occupancy else None) for n in zones],
    )  # fmt: skip


def _bucket_s(text: str) -> float:
    matched = BUCKET.match(text)
    seconds = int(matched[1]) * UNIT_S[matched[2]] if matched else 0
    if not MIN_BUCKET_S <= seconds <= MAX_BUCKET_S:
        raise HTTPException(status_code=400, detail=f"bucket {text[:8]!r}: a number and s, m, h or d, from 1m to 31d")
    return float(seconds)


def _per_bucket(found: list[Count], name: str, kind: str, slots: int) -> list[int]:
    counts = [0] * slots
    for c in found:
        if c.name == name and c.kind == kind and 0 <= c.bucket < slots:
            counts[c.bucket] += c.count
    return counts


def _line(name: str, found: list[Count], starts: list[float]) -> LineCounts:
    crossed_in, crossed_out = (_per_bucket(found, name, kind, len(starts)) for kind in ("in", "out"))
    buckets = [{"start": s, "in": i, "out": o} for s, i, o in zip(starts, crossed_in, crossed_out, strict=True)]
    return LineCounts.model_validate({"name": name, "in": sum(crossed_in), "out": sum(crossed_out), "buckets": buckets})


def _zone(name: str, found: list[Count], starts: list[float], occupancy: int | None) -> ZoneCounts:
    entered, loitering = (_per_bucket(found, name, kind, len(starts)) for kind in ("entered", "loitering"))
    buckets = [ZoneBucket(start=s, entered=e, loitering=lo) for s, e, lo in zip(starts, entered, loitering,
                                                                               strict=True)]  # fmt: skip
    return ZoneCounts(name=name, occupancy=occupancy, entered=sum(entered), loitering=sum(loitering), buckets=buckets)
