"""Webhooks and notification targets in the database, and the bridge's cursors (its place in the
events stream per target). Secrets and URLs are sealed (shared.secret_box) before they get here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.engine import connect, retrying
from shared.db.schema import bridge_cursors, integrations
from shared.secret_box import SecretBox


@dataclass(frozen=True)
class StoredIntegration:
    id: int
    kind: str
    name: str
    definition: dict[str, Any]
    created_at_s: float

    @property
    def target(self) -> str:
        """The bridge's name for it, as its status shows it."""
        return f"{self.kind}:{self.id}"

    @property
    def cursor_key(self) -> str:
        """Its cursor's key: the id and the moment it was made, so a target given a deleted one's id
        (SQLite reuses the highest) starts afresh, never from the deleted one's place."""
        return f"{self.target}@{round(self.created_at_s * 1e6)}"


async def list_integrations(connection: AsyncConnection, kind: str | None = None) -> list[StoredIntegration]:
    query = select(integrations).order_by(integrations.c.id)
    if kind is not None:
        query = query.where(integrations.c.kind == kind)
    return [
        StoredIntegration(row.id, row.kind, row.name, dict(row.definition), row.created_at)
        for row in await connection.execute(query)
    ]


async def add_integration(connection: AsyncConnection, kind: str, name: str, definition: dict[str, Any]) -> int:
    result = await connection.execute(
        insert(integrations).values(kind=kind, name=name, definition=definition, created_at=time.time())
    )
    await connection.commit()
    return int(result.inserted_primary_key[0])  # type: ignore[index]


async def remove_integration(connection: AsyncConnection, kind: str, integration_id: int) -> bool:
    result = await connection.execute(
        delete(integrations).where(integrations.c.id == integration_id, integrations.c.kind == kind)
    )
    await connection.execute(
        delete(bridge_cursors).where(bridge_cursors.c.target.startswith(f"{kind}:{integration_id}@"))
    )
    await connection.commit()
    return bool(result.rowcount)


async def forget_cursors(connection: AsyncConnection, kept: set[str]) -> int:
    """Drops the cursors of webhooks and notifications not in `kept` (their cursor keys): a deleted
    target's follower may have written its place once more after the gateway deleted it."""
    targets = bridge_cursors.c.target
    stale = (targets.startswith("webhook:") | targets.startswith("notification:")) & targets.not_in(kept)
    result = await connection.execute(delete(bridge_cursors).where(stale))
    await connection.commit()
    return int(result.rowcount)


async def get_cursor(connection: AsyncConnection, target: str) -> str | None:
    value = await connection.scalar(select(bridge_cursors.c.last_id).where(bridge_cursors.c.target == target))
    return str(value) if value is not None else None


async def set_cursor(connection: AsyncConnection, target: str, last_id: str) -> None:
    values = {"last_id": last_id, "updated_at": time.time()}
    result = await connection.execute(update(bridge_cursors).where(bridge_cursors.c.target == target).values(**values))
    if not result.rowcount:
        await connection.execute(insert(bridge_cursors).values(target=target, **values))
    await connection.commit()


SEALED_FIELDS = ("url", "secret")  # what a definition never holds open at rest


class Integrations:
    """Webhooks and notification targets as admins change them. Their URLs (which hold a service's
    token) and secrets are sealed here on the way in, and opened only by `opened`: for who sends."""

    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self.engine = engine
        self._box = box

    async def all(self, kind: str | None = None) -> list[StoredIntegration]:
        async with connect(self.engine) as connection:
            return await list_integrations(connection, kind)

    async def find(self, kind: str, integration_id: int) -> StoredIntegration | None:
        return next((i for i in await self.all(kind) if i.id == integration_id), None)

    async def add(self, kind: str, name: str, definition: dict[str, Any]) -> StoredIntegration:
        sealed = {k: self._box.seal(v) if k in SEALED_FIELDS and isinstance(v, str) else v
                  for k, v in definition.items()}  # fmt: skip

        async def added(connection: AsyncConnection) -> StoredIntegration:
            new_id = await add_integration(connection, kind, name, sealed)
            return next(i for i in await list_integrations(connection, kind) if i.id == new_id)

        return await retrying(self.engine, added)

    async def remove(self, kind: str, integration_id: int) -> bool:
        return await retrying(self.engine, lambda connection: remove_integration(connection, kind, integration_id))

    def opened(self, integration: StoredIntegration, field: str) -> str:
        """A sealed field of its definition, opened (to send to it: never to show)."""
        return self._box.open(str(integration.definition[field]))

    def opened_definition(self, integration: StoredIntegration) -> dict[str, Any]:
        """Its definition as the bridge delivers with it: sealed fields opened, the shown URL left out.
        ConfigError when a field cannot be opened (another install's key)."""
        return {k: self._box.open(v) if k in SEALED_FIELDS and isinstance(v, str) else v
                for k, v in integration.definition.items() if k != "shown_url"}  # fmt: skip

    async def forget_cursors(self, kept: set[str]) -> int:
        """The bridge's cursors of targets no longer stored dropped (shared.db.integrations.forget_cursors)."""
        async with connect(self.engine) as connection:
            return await forget_cursors(connection, kept)
