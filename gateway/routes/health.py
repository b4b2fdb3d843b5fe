"""Liveness, readiness, the dashboard's system panel and Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway.auth.deps import PrincipalDep
from gateway.metrics import CONTENT_TYPE, read_system
from gateway.models import (
    BridgeOut,
    BridgeTargetOut,
    CameraFileOut,
    Health,
    IngestHostOut,
    RecordingHostOut,
    RecordingsDisk,
    RegistryOut,
    SystemOut,
    WorkerOut,
)
from gateway.state import Gateway, GatewayDep
from shared.db import recording_hosts
from shared.db.engine import DatabaseUnavailable
from shared.disk_floor import floor_bytes
from shared.ingest_hosts import IngestHost

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(gateway: GatewayDep) -> JSONResponse:
    """Ready when the database and Redis answer, ingest is alive and at least one analyzer worker is (if any
    camera is analysed)."""
    problems = []
    if not await _database_answers(gateway):
        problems.append("database unreachable")
    try:
        await gateway.store.ping()
        if not await gateway.store.ingest_alive():
            problems.append("no ingest manager heartbeat")
        analysed = any(c.enabled and c.analysis.enabled for c in gateway.cameras.cameras)
        if analysed and not await gateway.store.workers():
            problems.append("no analyzer worker alive")
    except RedisError as e:
        problems.append(f"Redis unreachable: {type(e).__name__}")
    health = Health(status="ready" if not problems else "not ready", problems=problems)
    return JSONResponse(health.model_dump(by_alias=True), status_code=200 if not problems else 503)


@router.get("/api/system", response_model=SystemOut)
async def system(gateway: GatewayDep, principal: PrincipalDep) -> SystemOut:
    """For the dashboard's panel: Redis and the database reachable, the ingest hosts (their cameras, load and
    CPU), analyzer workers and their provider. The bridge's targets are described to admins only (a viewer sees
    their kind and counts)."""
    sessions = len(gateway.sessions.sessions)
    database = await _database_answers(gateway)
    disk = await _recordings_disk(gateway, database, principal.is_admin)
    camera_file = await _camera_file(gateway) if database else None
    try:
        hosts = await gateway.store.ingest_hosts()
        workers = await gateway.store.workers()
    except RedisError:
        return SystemOut(
            redis=False,
            database=database,
            ingest=False,
            workers=[],
            sessions=sessions,
            recordings=disk,
            registry=_registry(gateway),
            bridge=BridgeOut(alive=False, targets=[]),
            camera_file=camera_file,
        )
    found = [
        WorkerOut(worker_id=w.worker_id, host=w.host, provider=w.provider, cameras=sorted(int(c) for c in w.cameras))
        for w in workers
    ]
    return SystemOut(
        redis=True,
        database=database,
        ingest=bool(hosts),
        ingest_hosts=[_host(h) for _, h in sorted(hosts.items())],
        ingest_unplaced=max((h.unplaced for h in hosts.values()), key=len, default=[]),
        workers=found,
        sessions=sessions,
        recordings=disk,
        registry=_registry(gateway),
        bridge=await _bridge(gateway, principal.is_admin),
        camera_file=camera_file,
    )


def _host(host: IngestHost) -> IngestHostOut:
    return IngestHostOut(
        host=host.host, group=host.group, fenced=host.fenced, pid=host.pid,
        cameras=sorted(int(c) for c in host.cameras), load=host.load, cpu_percent=host.cpu_percent,
        cores=host.cores, restarts=sum(host.restarts.values()), updated_at=host.updated_at_s,
    )  # fmt: skip


async def _bridge(gateway: Gateway, admin: bool) -> BridgeOut:
    try:
        status = await gateway.store.bridge_status()
    except RedisError:
        status = None
    if status is None:
        return BridgeOut(alive=False, targets=[])
    targets = [BridgeTargetOut.model_validate(asdict(t)) for t in status.targets]
    if not admin:  # where targets are and what they answered is for admins (it names hosts, ports, errors)
        targets = [t.model_copy(update={"label": t.name, "last_error": None}) for t in targets]
    return BridgeOut(alive=True, targets=targets)


def _registry(gateway: Gateway) -> RegistryOut | None:
    if gateway.registry is None:
        return None
    status = gateway.registry.status
    return RegistryOut(url=status.url, ok=status.ok, error=status.error, last_sync_at=status.last_sync_at,
                       cameras=status.cameras)  # fmt: skip


async def _recordings_disk(gateway: Gateway, database: bool, admin: bool) -> RecordingsDisk:
    kept, hosts = None, []
    if database:
        with contextlib.suppress(SQLAlchemyError, DatabaseUnavailable):
            kept = await gateway.recordings.total_bytes()
            hosts = [RecordingHostOut(host=h.name, url=h.url if admin else None, disk_total=h.total_bytes,
                                      disk_free=h.free_bytes, updated_at=h.updated_at_s)
                     for h in (await recording_hosts.every(gateway.footage.engine)).values()]  # fmt: skip
    try:
        usage = await asyncio.to_thread(shutil.disk_usage, gateway.settings.recordings_root)
    except OSError:  # not made yet (nothing recorded), or not mounted
        return RecordingsDisk(bytes=kept, disk_total=None, disk_free=None, hosts=hosts)
    floor = await asyncio.to_thread(floor_bytes, gateway.settings, gateway.settings.recordings_root)
    return RecordingsDisk(bytes=kept, disk_total=usage.total, disk_free=usage.free, disk_floor=floor, hosts=hosts)


async def _camera_file(gateway: Gateway) -> CameraFileOut | None:
    try:
        found = await gateway.camera_store.file_problem()
    except (SQLAlchemyError, DatabaseUnavailable):
        return None
    return CameraFileOut(problem=found.problem, since=found.since) if found else None


async def _database_answers(gateway: Gateway) -> bool:
    return await gateway.camera_store.reachable(gateway.settings.database_timeout_s)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(gateway: GatewayDep) -> Response:
    """Prometheus text format: ingest, analyzer, WebRTC, the gateway's readers, requests, and the process."""
    reading = await read_system(gateway.store, gateway.recordings, list(gateway.cameras.cameras), gateway.settings)
    return Response(gateway.metrics.render(reading, gateway.live_figures()), media_type=CONTENT_TYPE)
