"""Cameras in the database: the source of truth once imported, read by every process.

On the first start (no camera stored) the camera file, or the demo set, is imported. Later, a
camera file whose content changed since it was last applied is applied again: cameras are
added or updated by id, and one that left the file is deleted, unless it has history: then it
is kept, disabled, and the log says so. Every change bumps the revision in `meta`, which a
process compares to notice that cameras changed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.cameras import Camera, CameraFile, camera_from_definition
from shared.db.schema import CAMERAS_FILE_SHA256, CAMERAS_REVISION, cameras, events, meta
from shared.secret_box import SecretBox
from shared.settings import ConfigError

log = logging.getLogger(__name__)

# A registry camera's fields that camstream's admins set (the registry owns the rest).
LOCAL_FIELDS = ("analysis", "record", "health")


@dataclass
class CameraChanges:
    imported: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    disabled: list[int] = field(default_factory=list)  # left the file but have history: kept

    def __bool__(self) -> bool:
        return any((self.imported, self.added, self.updated, self.deleted, self.disabled))


def _normal(definition: Mapping[str, Any]) -> dict[str, Any]:
    normal: dict[str, Any] = json.loads(json.dumps(definition, sort_keys=True))
    return normal


async def get_meta(connection: AsyncConnection, key: str) -> str | None:
    value = await connection.scalar(select(meta.c.value).where(meta.c.key == key))
    return str(value) if value is not None else None


async def set_meta(connection: AsyncConnection, key: str, value: str) -> None:
    if (await get_meta(connection, key)) is None:
        await connection.execute(insert(meta).values(key=key, value=value))
    else:
        await connection.execute(update(meta).where(meta.c.key == key).values(value=value))


async def revision(connection: AsyncConnection) -> int:
    """Changes whenever any camera does: cheap to poll."""
    return int(await get_meta(connection, CAMERAS_REVISION) or 0)


async def apply_camera_file(
    connection: AsyncConnection, definitions: list[dict[str, Any]], file_sha256: str | None, source: str
) -> CameraChanges:
    """Import or re-apply the camera file (file_sha256 None: the demo set, imported only into an
    empty table). Call it inside shared.db.migrate.exclusive(); commits."""
    changes = CameraChanges()
    stored = {row.id: row.definition for row in await connection.execute(select(cameras.c.id, cameras.c.definition))}
    wanted = {int(d["id"]): _normal(d) for d in definitions}
    if stored and (file_sha256 is None or file_sha256 == await get_meta(connection, CAMERAS_FILE_SHA256)):
        return changes  # the database is the truth; this file was applied already (or there is none)
    now_s = time.time()
    next_revision = await revision(connection) + 1
    for camera_id, definition in sorted(wanted.items()):
        if camera_id not in stored:
            await connection.execute(
                insert(cameras).values(
                    id=camera_id, definition=definition, revision=next_revision, updated_at=now_s, created_at=now_s
                )
            )
            (changes.added if stored else changes.imported).append(camera_id)
        elif _normal(stored[camera_id]) != definition:
            await connection.execute(
                update(cameras).where(cameras.c.id == camera_id)
                .values(definition=definition, revision=next_revision, updated_at=now_s)
            )  # fmt: skip
            changes.updated.append(camera_id)
    for camera_id in sorted(set(stored) - set(wanted)):
        await _retire(connection, camera_id, stored[camera_id], changes, next_revision, now_s)
    if file_sha256 is not None:
        await set_meta(connection, CAMERAS_FILE_SHA256, file_sha256)
    if changes:
        await set_meta(connection, CAMERAS_REVISION, str(next_revision))
    await connection.commit()
    _log_changes(changes, source)
    return changes


async def _retire(
    connection: AsyncConnection, camera_id: int, definition: Mapping[str, Any], changes: CameraChanges,
    next_revision: int, now_s: float,
) -> None:  # fmt: skip
    """A camera that left its list (the camera file, the registry): deleted, or, when it has events,
    kept with its history and disabled."""
    if await connection.scalar(select(exists().where(events.c.camera_id == camera_id))):
        if definition.get("enabled", True):
            disabled = {**definition, "enabled": False}
            await connection.execute(
                update(cameras).where(cameras.c.id == camera_id)
                .values(definition=disabled, revision=next_revision, updated_at=now_s)
            )  # fmt: skip
            changes.disabled.append(camera_id)
    else:
        await connection.execute(delete(cameras).where(cameras.c.id == camera_id))
        changes.deleted.append(camera_id)


def _log_changes(changes: CameraChanges, source: str) -> None:
    def ids(found: list[int]) -> str:
        return ", ".join(str(i) for i in found)

    if changes.imported:
        log.info("cameras: imported %d camera(s) from %s: %s", len(changes.imported), source, ids(changes.imported))
    if changes.added:
        log.info("cameras: %s changed; added camera(s) %s", source, ids(changes.added))
    if changes.updated:
        log.info("cameras: %s changed; updated camera(s) %s", source, ids(changes.updated))
    if changes.deleted:
        log.info("cameras: %s changed; deleted camera(s) %s (no history)", source, ids(changes.deleted))
    if changes.disabled:
        log.warning(
            "cameras: camera(s) %s left %s but have events: kept with their history and disabled",
            ids(changes.disabled), source,
        )  # fmt: skip


async def read_cameras(
    connection: AsyncConnection, environ: Mapping[str, str], box: SecretBox | None = None
) -> CameraFile:
    """Every stored camera that can be used here. One that cannot (a `${VAR}` unset in this
    process's environment, a URL sealed with another key) is left out with an error in the log;
    the others carry on."""
    found: list[Camera] = []
    for row in await connection.execute(select(cameras.c.id, cameras.c.definition).order_by(cameras.c.id)):
        try:
            found.append(camera_from_definition(row.definition, environ, box))
        except ConfigError as e:
            log.error("camera %d in the database cannot be used: %s", row.id, e)
    # model_construct: the list may be empty (every camera deleted), which a camera file may not be.
    return CameraFile.model_construct(cameras=found)


class CameraNotFound(LookupError):
    pass


class CameraExists(ValueError):
    pass


async def stored_definition(connection: AsyncConnection, camera_id: int) -> dict[str, Any] | None:
    definition = await connection.scalar(select(cameras.c.definition).where(cameras.c.id == camera_id))
    return dict(definition) if definition is not None else None


async def next_camera_id(connection: AsyncConnection) -> int:
    highest = await connection.scalar(select(cameras.c.id).order_by(cameras.c.id.desc()).limit(1))
    return int(highest or 0) + 1


async def save_camera(connection: AsyncConnection, definition: dict[str, Any], new: bool) -> int:
    """Add (new) or replace a camera's definition, bumping the revision; commits. Raises CameraExists
    or CameraNotFound. An added camera without an id gets the next free one."""
    definition = _normal(definition)
    if "id" not in definition:
        definition["id"] = await next_camera_id(connection)
    camera_id = int(definition["id"])
    present = await stored_definition(connection, camera_id) is not None
    if new and present:
        raise CameraExists(f"camera id {camera_id} is taken")
    if not new and not present:
        raise CameraNotFound(f"no camera with id {camera_id}")
    next_revision = await revision(connection) + 1
    values = {"definition": definition, "revision": next_revision, "updated_at": time.time()}
    if new:
        await connection.execute(insert(cameras).values(id=camera_id, created_at=values["updated_at"], **values))
    else:
        await connection.execute(update(cameras).where(cameras.c.id == camera_id).values(**values))
    await set_meta(connection, CAMERAS_REVISION, str(next_revision))
    await connection.commit()
    return camera_id


async def created_at(connection: AsyncConnection, camera_id: int) -> float | None:
    """When the camera was added (None: unknown, or no such camera)."""
    value = await connection.scalar(select(cameras.c.created_at).where(cameras.c.id == camera_id))
    return float(value) if value is not None else None


async def remove_camera(connection: AsyncConnection, camera_id: int) -> None:
    """Delete a camera's definition, bumping the revision; commits. Raises CameraNotFound."""
    result = await connection.execute(delete(cameras).where(cameras.c.id == camera_id))
    if not result.rowcount:
        raise CameraNotFound(f"no camera with id {camera_id}")
    await set_meta(connection, CAMERAS_REVISION, str(await revision(connection) + 1))
    await connection.commit()


async def apply_registry(connection: AsyncConnection, definitions: list[dict[str, Any]]) -> CameraChanges:
    """Make the registry's cameras (each marked `registry: true`) what the list says: added, updated,
    and those that left it deleted (or disabled, with history). What is set here and not by the
    registry (LOCAL_FIELDS: analysis with its zones, recording) is kept across its updates. Cameras of
    the camera file or the API are never touched; a registry id that one of them holds is skipped.
    Commits."""
    changes = CameraChanges()
    stored = {row.id: row.definition for row in await connection.execute(select(cameras.c.id, cameras.c.definition))}
    now_s, next_revision = time.time(), await revision(connection) + 1
    for given in sorted(definitions, key=lambda d: int(d["id"])):
        camera_id = int(given["id"])
        old = stored.get(camera_id)
        if old is None:
            definition = _normal({**given, "registry": True})
            await connection.execute(
                insert(cameras).values(
                    id=camera_id, definition=definition, revision=next_revision, updated_at=now_s, created_at=now_s
                )
            )
            changes.added.append(camera_id)
            continue
        local = {name: old[name] for name in LOCAL_FIELDS if name in old and name not in given}
        definition = _normal({**given, **local, "registry": True})
        if old.get("registry") and _normal(old) != definition:
            await connection.execute(
                update(cameras).where(cameras.c.id == camera_id)
                .values(definition=definition, revision=next_revision, updated_at=now_s)
            )  # fmt: skip
            changes.updated.append(camera_id)
    wanted = {int(d["id"]) for d in definitions}
    for camera_id, old in sorted(stored.items()):
        if old.get("registry") and camera_id not in wanted:
            await _retire(connection, camera_id, old, changes, next_revision, now_s)
    if changes:
        await set_meta(connection, CAMERAS_REVISION, str(next_revision))
    await connection.commit()
    return changes
