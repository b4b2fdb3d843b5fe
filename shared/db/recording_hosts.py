"""The hosts whose footage stays on their own disk (CAMSTREAM_RECORDINGS_URL): each one's recorder
says every pass where it serves its footage and how full its disk is; gateways read it to fetch a
segment from the host that holds it (gateway.footage) and to show the disks (/api/system).
Raises SQLAlchemyError or DatabaseUnavailable when the database fails or cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import connect
from shared.db.schema import recording_hosts


@dataclass(frozen=True, slots=True)
class RecordingHost:
    name: str
    url: str
    free_bytes: int
    total_bytes: int
    updated_at_s: float


async def say(engine: AsyncEngine, host: RecordingHost) -> None:
    """Record (or refresh) a host's row."""
    values = {"url": host.url, "free_bytes": host.free_bytes, "total_bytes": host.total_bytes,
              "updated_at": host.updated_at_s}  # fmt: skip
    async with connect(engine, write=True) as connection:
        changed = await connection.execute(
            update(recording_hosts).where(recording_hosts.c.name == host.name).values(**values)
        )  # fmt: skip
        if not changed.rowcount:
            await connection.execute(recording_hosts.insert().values(name=host.name, **values))


async def every(engine: AsyncEngine) -> dict[str, RecordingHost]:
    async with connect(engine) as connection:
        rows = await connection.execute(select(recording_hosts).order_by(recording_hosts.c.name))
        return {r.name: RecordingHost(r.name, r.url, r.free_bytes, r.total_bytes, r.updated_at) for r in rows}
