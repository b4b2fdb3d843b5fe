"""The external camera registry: a camera list kept by another system (a VMS, an inventory),
followed by camstream.

Every CAMSTREAM_CAMERA_REGISTRY_INTERVAL_S the gateway GETs CAMSTREAM_CAMERA_REGISTRY_URL (bearer
token CAMSTREAM_CAMERA_REGISTRY_TOKEN; If-None-Match with the last ETag), a JSON list of cameras:

    [{"id": 7, "name": "Lobby", "location": "Main hall", "channel": 701,
      "rtsp_url": "rtsp://user:password@lobby-cam.example/stream1"}]

(the URL may also be called `rtspUrl`, `source`, `url` or `streamUrl`). The list is checked whole
with the camera file's rules; if it is usable its cameras become the registry's cameras (marked
`registry: true`, read-only through the API; passwords sealed at rest), added, updated and deleted
to match. If the registry cannot be reached, answers an error or garbage, the last good list stays
in force, and /api/system says why. Once a registry camera streams, its `webrtcUrl` is reported
back (PATCH to CAMSTREAM_CAMERA_REGISTRY_CALLBACK, `{url}/{id}` by default), retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.bus.store import Store
from shared.cameras import camera_from_definition
from shared.db.cameras import apply_registry
from shared.db.engine import DatabaseUnavailable, connect
from shared.redact import mask_credentials
from shared.secret_box import SecretBox
from shared.settings import ConfigError, Settings
from shared.status import CameraState

log = logging.getLogger(__name__)

URL_NAMES = ("rtsp_url", "rtspUrl", "source", "url", "streamUrl", "stream_url")
MAX_CAMERAS = 1000
REPORT_BACKOFF_MAX_S = 60.0


class UnusableList(ValueError):
    """The registry's answer is not a camera list this gateway can take: why, for the status."""


@dataclass
class RegistryStatus:
    url: str  # masked
    ok: bool = False
    error: str | None = None
    last_sync_at: float | None = None
    cameras: int = 0


class Registry:
    def __init__(self, settings: Settings, engine: AsyncEngine, box: SecretBox, store: Store) -> None:
        assert settings.camera_registry_url is not None
        self.url = settings.camera_registry_url.rstrip("/")
        self.settings, self.engine, self.box, self.store = settings, engine, box, store
        self.status = RegistryStatus(mask_credentials(self.url))
        self._etag: str | None = None
        self._ids: list[int] = []
        self._reported: set[int] = set()
        self._retry_at: dict[int, tuple[float, float]] = {}  # camera -> (next attempt, delay)

    def _headers(self) -> dict[str, str]:
        token = self.settings.camera_registry_token
        return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=10.0, follow_redirects=False) as client:
            while True:
                await self.sync(client)
                await self.report(client)
                await asyncio.sleep(self.settings.camera_registry_interval_s)

    async def sync(self, client: httpx.AsyncClient) -> None:
        headers = {**self._headers(), **({"If-None-Match": self._etag} if self._etag else {})}
        try:
            reply = await client.get(self.url, headers=headers)
        except httpx.HTTPError as e:
            return self._failed(f"cannot reach the registry: {type(e).__name__}")
        if reply.status_code == 304:
            return self._succeeded(len(self._ids))
        if reply.status_code != 200:
            return self._failed(f"the registry answered {reply.status_code}")
        try:
            definitions = self._definitions(reply.json())
        except (ValueError, UnusableList) as e:
            return self._failed(f"the registry sent an unusable camera list: {e}"[:300])
        try:
            async with connect(self.engine, write=True) as connection:
                changes = await apply_registry(connection, definitions)
        except (SQLAlchemyError, DatabaseUnavailable) as e:
            return self._failed(f"cannot store the registry's cameras: {type(e).__name__}")
        if changes:
            log.info("registry: cameras added %s, updated %s, deleted %s", changes.added, changes.updated,
                     changes.deleted)  # fmt: skip
            self._reported -= set(changes.added) | set(changes.updated)
        self._etag = reply.headers.get("etag")
        self._ids = [int(d["id"]) for d in definitions]
        return self._succeeded(len(definitions))

    def _definitions(self, items: Any) -> list[dict[str, Any]]:
        if not isinstance(items, list) or len(items) > MAX_CAMERAS:
            raise UnusableList(f"expected a JSON list of at most {MAX_CAMERAS} cameras")
        definitions, seen = [], set()
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise UnusableList(f"item {index} is not an object")
            url = next((item[n] for n in URL_NAMES if isinstance(item.get(n), str)), None)
            if url is None or urlsplit(url).scheme.lower() not in ("rtsp", "rtsps") or "${" in url:
                raise UnusableList(f"item {index}: no rtsp:// URL (one of {', '.join(URL_NAMES)})")
            definition = {
                "id": item.get("id"), "name": item.get("name"), "location": item.get("location", ""),
                "channel": item.get("channel", 0), "registry": True,
                "source": self.box.seal(url) if urlsplit(url).password else url,
            }  # fmt: skip
            try:
                camera_from_definition(definition, {}, self.box)
            except ConfigError as e:
                raise UnusableList(f"item {index}: {e}") from None
            if definition["id"] in seen:
                raise UnusableList(f"item {index}: id {definition['id']} appears twice")
            seen.add(definition["id"])
            definitions.append(definition)
        return definitions

    async def report(self, client: httpx.AsyncClient) -> None:
        """Each registry camera's webrtcUrl, once it streams; retried with backoff."""
        pending = [i for i in self._ids if i not in self._reported]
        if not pending:
            return
        try:
            statuses, _owners = await self.store.cameras_and_owners(pending)
        except redis.RedisError:  # Redis away: next time
            return
        now = time.monotonic()
        for camera_id in pending:
            status = statuses.get(camera_id)
            next_at, delay = self._retry_at.get(camera_id, (0.0, 1.0))
            if status is None or status.state is not CameraState.STREAMING or now < next_at:
                continue
            target = self.settings.camera_registry_callback.format(url=self.url, id=camera_id)
            try:
                reply = await client.patch(target, json={"webrtcUrl": f"/api/webrtc/stream/{camera_id}"},
                                           headers=self._headers())  # fmt: skip
                ok = reply.status_code < 300
            except httpx.HTTPError:
                ok = False
            if ok:
                self._reported.add(camera_id)
                self._retry_at.pop(camera_id, None)
            else:
                self._retry_at[camera_id] = (now + delay, min(REPORT_BACKOFF_MAX_S, delay * 2))

    def _succeeded(self, count: int) -> None:
        if not self.status.ok:
            log.info("registry %s: camera list in force (%d cameras)", self.status.url, count)
        self.status.ok, self.status.error, self.status.cameras = True, None, count
        self.status.last_sync_at = time.time()

    def _failed(self, error: str) -> None:
        if self.status.error != error:
            log.warning("registry %s: %s; the last good camera list stays in force", self.status.url, error)
        self.status.ok, self.status.error = False, error
