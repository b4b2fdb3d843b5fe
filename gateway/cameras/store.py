"""Cameras written through the API: validation with the camera file's own rules, RTSP only,
credentials sealed at rest (shared.secret_box), and the stored definition shown without them.
Each change in a writing connection of its own, retried while SQLite is locked (as every
repository does: shared.db.engine.retrying)."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.camera_urls import check_rtsp_url, same_endpoint
from shared.cameras import Camera, camera_from_definition, placeholders_in
from shared.db.camera_file import FileProblem, read_problem
from shared.db.cameras import LOCAL_FIELDS, created_at, next_camera_id, remove_camera, save_camera, stored_definition
from shared.db.engine import DatabaseUnavailable, check_connection, connect, retrying
from shared.secret_box import SecretBox
from shared.settings import ConfigError

URL_FIELDS = ("source", "detect_source")
MASK = "***"


class Rejected(ValueError):
    """The definition cannot be used: a 422 with this text."""


class Managed(Exception):
    """The camera belongs to the camera registry: a 409 with this text."""


def masked_definition(camera: Camera) -> dict[str, Any]:
    """A camera as the camera file writes it, with its URLs' passwords as ***."""
    shown: dict[str, Any] = camera.model_dump(mode="json")
    shown["source"] = camera.source_masked
    shown["detect_source"] = camera.detect_source_masked
    return shown


class CameraStore:
    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self.engine = engine
        self.box = box

    async def create(self, fields: dict[str, Any]) -> Camera:
        definition = self._sealed(fields, previous=None)

        async def created(connection: AsyncConnection) -> Camera:
            numbered = dict(definition)
            if "id" not in numbered:
                numbered["id"] = await next_camera_id(connection)
            self._validated(numbered)
            camera_id = await save_camera(connection, numbered, new=True)
            return self._validated(await stored_definition(connection, camera_id) or {})

        return await retrying(self.engine, created)

    async def update(self, camera_id: int, fields: dict[str, Any]) -> Camera:
        """Change the given fields (a mapping replaces a mapping: `analysis`, `record`)."""
        if "id" in fields and fields["id"] != camera_id:
            raise Rejected("id cannot change")

        async def updated(connection: AsyncConnection) -> Camera:
            stored = await stored_definition(connection, camera_id)
            if stored is None:
                raise LookupError(camera_id)
            if stored.get("registry") and not set(fields) <= set(LOCAL_FIELDS):
                raise Managed(f"camera {camera_id} is managed by the camera registry: change it there "
                              f"(here, only {' and '.join(LOCAL_FIELDS)})")  # fmt: skip
            definition = {**stored, **self._sealed(fields, previous=stored), "id": camera_id}
            self._validated(definition)
            await save_camera(connection, definition, new=False)
            return self._validated(definition)

        return await retrying(self.engine, updated)

    async def file_problem(self) -> FileProblem | None:
        """Why the camera file was last refused, while it still is (shared.db.camera_file)."""
        async with connect(self.engine) as connection:
            return await read_problem(connection)

    async def added_at(self, camera_id: int) -> float | None:
        """When the camera was added (None: before camstream kept it)."""
        async with connect(self.engine) as connection:
            return await created_at(connection, camera_id)

    async def reachable(self, timeout_s: float) -> bool:
        """Whether the database answers within timeout_s."""
        try:
            await asyncio.wait_for(check_connection(self.engine), timeout_s)
        except (DatabaseUnavailable, TimeoutError):
            return False
        return True

    async def delete(self, camera_id: int) -> None:
        async def deleted(connection: AsyncConnection) -> None:
            stored = await stored_definition(connection, camera_id)
            if stored is not None and stored.get("registry"):
                raise Managed(f"camera {camera_id} is managed by the camera registry: delete it there")
            await remove_camera(connection, camera_id)

        await retrying(self.engine, deleted)

    def _validated(self, definition: dict[str, Any]) -> Camera:
        try:
            return camera_from_definition(definition, os.environ, self.box)
        except ConfigError as e:
            raise Rejected(str(e)) from None

    def _sealed(self, fields: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        """The fields with each URL checked, its masked password taken from the stored URL, and sealed
        when it holds a password."""
        sealed = dict(fields)
        if found := placeholders_in(fields):
            raise Rejected(f"{', '.join(found)}: ${{VAR}} placeholders are filled in only from the camera file's "
                           "source and detect_source; the API takes values as they are")  # fmt: skip
        if sealed.get("registry"):
            raise Rejected("registry: only the camera registry's cameras carry it")
        for name in URL_FIELDS:
            url = sealed.get(name)
            if url is None:
                continue
            if not isinstance(url, str):
                raise Rejected(f"{name} must be a string")
            url = url.strip()
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("rtsp", "rtsps") or "://" not in url:
                raise Rejected(f"{name}: only rtsp:// and rtsps:// cameras can be added through the API "
                               "(files and demo scenes: the camera file)")  # fmt: skip
            try:
                check_rtsp_url(url)
            except ValueError as e:
                raise Rejected(f"{name}: {e}") from None
            if MASK in (parts.password, parts.username):  # the masked URL sent back: keep the stored login
                url = self._with_stored_login(parts, previous.get(name) if previous else None, name)
            sealed[name] = self.box.seal(url) if urlsplit(url).password else url
        return sealed

    def _with_stored_login(self, parts: Any, stored: Any, name: str) -> str:
        """`rtsp://***@host` (as responses show it) or `rtsp://user:***@host`, with the stored login."""
        old_url = self.box.open(stored) if isinstance(stored, str) else None
        old = urlsplit(old_url) if old_url is not None else None
        if old_url is None or old is None or old.password is None:
            raise Rejected(f"{name}: the URL's login is *** but no password is stored to keep")
        if not same_endpoint(old_url, urlunsplit(parts)):
            raise Rejected(f"{name}: the host or port changed, so the stored password is not sent there: "
                           "give the password again")  # fmt: skip
        stored_login = old.netloc.rpartition("@")[0]
        given_login, _, host = parts.netloc.rpartition("@")
        login = stored_login if given_login == MASK else f"{given_login.split(':', 1)[0]}:{old.password}"
        return str(urlunsplit(parts._replace(netloc=f"{login}@{host}")))
