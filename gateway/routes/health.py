"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from redis.exceptions import RedisError

from gateway.models import Health, SystemOut, WorkerOut
from gateway.state import GatewayDep
from shared import keys

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(gateway: GatewayDep) -> JSONResponse:
    """Ready when Redis answers, ingest is alive and at least one analyzer worker is (if any camera is analysed)."""
    problems = []
    try:
        await gateway.client.ping()
        if not await gateway.client.exists(keys.ingest_heartbeat()):
            problems.append("no ingest manager heartbeat")
        analysed = any(c.enabled and c.analysis.enabled for c in gateway.cameras.cameras)
        if analysed and not await gateway.store.workers():
            problems.append("no analyzer worker alive")
    except RedisError as e:
        problems.append(f"Redis unreachable: {e}")
    health = Health(status="ready" if not problems else "not ready", problems=problems)
    return JSONResponse(health.model_dump(by_alias=True), status_code=200 if not problems else 503)


@router.get("/api/system", response_model=SystemOut)
async def system(gateway: GatewayDep) -> SystemOut:
    """For the dashboard's panel: Redis reachable, ingest alive, analyzer workers and their provider."""
    try:
        ingest = bool(await gateway.client.exists(keys.ingest_heartbeat()))
        workers = await gateway.store.workers()
    except RedisError:
        return SystemOut(redis=False, ingest=False, workers=[], sessions=len(gateway.sessions.sessions))
    found = [
        WorkerOut(worker_id=w.worker_id, host=w.host, provider=w.provider, cameras=sorted(int(c) for c in w.cameras))
        for w in workers
    ]
    return SystemOut(redis=True, ingest=ingest, workers=found, sessions=len(gateway.sessions.sessions))


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(gateway: GatewayDep) -> PlainTextResponse:
    """Prometheus text format."""
    lines: list[str] = []

    def metric(name: str, kind: str, text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.extend([f"# HELP camstream_{name} {text}", f"# TYPE camstream_{name} {kind}"])
        for labels, value in samples:
            label = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"camstream_{name}{{{label}}} {value}" if label else f"camstream_{name} {value}")

    ids = [c.id for c in gateway.cameras.cameras]
    try:
        statuses, _owners = await gateway.store.cameras_and_owners(ids)
        workers = await gateway.store.workers()
    except RedisError:
        statuses, workers = {}, []
    cam = {c: {"camera": str(c)} for c in ids}
    metric("ingest_fps", "gauge", "Frames per second written by ingest.",
           [(cam[c], s.fps) for c, s in statuses.items()])  # fmt: skip
    metric("ingest_frames_dropped_total", "counter", "Frames left out to hold the target fps.",
           [(cam[c], s.frames_dropped) for c, s in statuses.items()])  # fmt: skip
    metric("ingest_frames_failed_total", "counter", "Frames not written to Redis in time.",
           [(cam[c], s.frames_failed) for c, s in statuses.items()])  # fmt: skip
    metric("camera_up", "gauge", "1 while ingest reports the camera streaming.",
           [(cam[c], 1.0 if c in statuses and statuses[c].state == "streaming" else 0.0) for c in ids])  # fmt: skip
    analysis = [(cid, counters) for w in workers for cid, counters in w.cameras.items()]
    metric("analyzer_lag_ms", "gauge", "Capture to end of analysis of the last frame.",
           [({"camera": c}, n.lag_ms) for c, n in analysis])  # fmt: skip
    metric("analyzer_frames_skipped_total", "counter", "Analysis slots missed because a worker was behind.",
           [({"camera": c}, n.frames_skipped) for c, n in analysis])  # fmt: skip
    metric("analyzer_frames_bad_total", "counter", "Bad frames counted and skipped.",
           [({"camera": c}, n.frames_bad) for c, n in analysis])  # fmt: skip
    metric("analyzer_inference_ms", "gauge", "Moving average of each detector stage.",
           [({"camera": c, "stage": st}, ms) for c, n in analysis for st, ms in n.inference_ms.items()])  # fmt: skip
    metric("analyzer_workers", "gauge", "Analyzer workers alive.", [({}, float(len(workers)))])
    metric("webrtc_sessions", "gauge", "WebRTC sessions open.", [({}, float(len(gateway.sessions.sessions)))])
    feeds = [({"camera": str(c), "overlay": str(o).lower()}, f.stats) for (c, o), f in gateway.feeds.items()]
    metric("webrtc_frames_encoded_total", "counter", "Frames encoded by the shared per-camera encoder.",
           [(labels, s.frames_encoded) for labels, s in feeds])  # fmt: skip
    metric("webrtc_encode_ms_total", "counter", "Time spent encoding, in milliseconds.",
           [(labels, round(s.encode_ms_total, 1)) for labels, s in feeds])  # fmt: skip
    metric("webrtc_packets_sent_total", "counter", "Encoded packets handed to viewers (one per viewer).",
           [(labels, s.packets_sent) for labels, s in feeds])  # fmt: skip
    metric(
        "webrtc_frames_sent_total",
        "counter",
        "Frames sent, over all open sessions.",
        [({}, float(sum(s.track.frames_sent for s in gateway.sessions.sessions.values())))],
    )
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
