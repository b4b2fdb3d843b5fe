"""A host's footage, served to the gateways when it stays on this host's disk (CAMSTREAM_RECORDINGS_URL).
Every request is signed by the gateway that makes it (shared.footage_signing); anything else is
refused (401/403, counted and said once a minute):

    GET    /footage/{camera}/{UTC day}/{start ms}-{end ms}.mp4   a finished segment (HTTP Range)
    DELETE /footage/{camera}                                     the camera's footage on this disk

A gateway fetches the segments a clip needs and cuts it as it would from its own disk (stream copy:
only the footage in the range, and a segment at each end, crosses the network). DELETE is a purged
camera's (DELETE /api/cameras/{id}?purge=true).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from shared import recordings
from shared.cameras import MAX_CAMERA_ID
from shared.footage_signing import EXPIRES_HEADER, SIGNATURE_HEADER, refusal
from shared.settings import ConfigError

log = logging.getLogger(__name__)

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SAY_REFUSALS_EVERY_S = 60.0


class Refusals:
    """Requests refused, counted; said at most once a minute (a scanner must not flood the log)."""

    def __init__(self) -> None:
        self.count = 0
        self._said_at = -float("inf")

    def add(self, client: str, reason: str) -> None:
        self.count += 1
        if time.monotonic() - self._said_at >= SAY_REFUSALS_EVERY_S:
            self._said_at = time.monotonic()
            log.warning("recorder: refused a request for footage from %s: %s (%d refused so far)", client, reason,
                        self.count)  # fmt: skip


def footage_app(root: Path, key: bytes, refusals: Refusals) -> Starlette:
    def refused(request: Request) -> Response | None:
        reason = refusal(key, request.method, request.url.path, request.headers.get(EXPIRES_HEADER),
                         request.headers.get(SIGNATURE_HEADER), time.time())  # fmt: skip
        if reason is None:
            return None
        refusals.add(request.client.host if request.client else "?", reason)
        return PlainTextResponse(reason, status_code=401 if reason.startswith("unsigned") else 403)

    async def segment(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        camera, day, name = request.path_params["camera"], request.path_params["day"], request.path_params["name"]
        found = recordings.parse(Path(name), camera) if camera <= MAX_CAMERA_ID and DAY.match(day) else None
        path = root / str(camera) / day / name
        if found is None or found.is_part or not await asyncio.to_thread(path.is_file):
            return PlainTextResponse("no such segment on this host", status_code=404)
        return FileResponse(path, media_type="video/mp4")

    async def purge(request: Request) -> Response:
        if (answer := refused(request)) is not None:
            return answer
        camera = request.path_params["camera"]
        if camera > MAX_CAMERA_ID:
            return PlainTextResponse("no such camera", status_code=404)
        await asyncio.to_thread(shutil.rmtree, recordings.camera_dir(root, camera), True)
        log.info("camera=%d its footage on this host deleted (the camera was purged)", camera)
        return Response(status_code=204)

    return Starlette(routes=[
        Route("/footage/{camera:int}/{day}/{name}", segment, methods=["GET"]),
        Route("/footage/{camera:int}", purge, methods=["DELETE"]),
    ])  # fmt: skip


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's own SIGTERM handling stops the recorder, which stops this (FootageServer.stop)


class FootageServer:
    """The app on a socket bound at start (a port taken is a clear error, not a log line later)."""

    def __init__(self, listen: str, root: Path, key: bytes) -> None:
        self.refusals = Refusals()
        self.socket = bind(listen)
        config = uvicorn.Config(footage_app(root, key, self.refusals), log_config=None, access_log=False,
                                lifespan="off", server_header=False, proxy_headers=False, limit_concurrency=64,
                                timeout_graceful_shutdown=2)  # fmt: skip
        self._server = _Server(config)

    async def serve(self) -> None:
        await self._server.serve(sockets=[self.socket])

    def stop(self) -> None:
        self._server.should_exit = True


def bind(listen: str) -> socket.socket:
    """A listening socket on `address:port` (`[v6]:port` for IPv6; `[::]` takes IPv4 too)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]  # fmt: skip
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ConfigError(f"CAMSTREAM_RECORDINGS_LISTEN: cannot listen on {listen}: {e.strerror or e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise ConfigError(f"CAMSTREAM_RECORDINGS_LISTEN: cannot listen on {listen}: {e.strerror or e}") from None
    sock.setblocking(False)
    return sock
