"""Known people and their face samples in the database (the gateway enrols, analyzers read).

An embedding is 128 float32 (little-endian, unit norm) from analyzer.detectors.recognition. Every change
bumps the faces revision in `meta`, which analyzers poll to reload what they match against. The
writers leave the commit to their caller, so a person and their first sample land together (nobody
ever sees an enrolled person with no samples, and a crash between the two leaves neither).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.cameras import get_meta, set_meta
from shared.db.engine import DatabaseUnavailable, connect, retrying
from shared.db.schema import face_samples, known_people

log = logging.getLogger(__name__)
FACES_POLL_S = 2.0
FACES_REVISION = "faces_revision"
EMBEDDING = np.dtype("<f4")


@dataclass(frozen=True)
class KnownPerson:
    name: str
    samples: int
    created_at_s: float


class PersonExists(ValueError):
    pass


async def faces_revision(connection: AsyncConnection) -> int:
    return int(await get_meta(connection, FACES_REVISION) or 0)


async def _bump(connection: AsyncConnection) -> None:
    await set_meta(connection, FACES_REVISION, str(await faces_revision(connection) + 1))


async def list_people(connection: AsyncConnection, name: str | None = None) -> list[KnownPerson]:
    """Everyone enrolled, by name (or only the one of that name)."""
    count = func.count(face_samples.c.id)
    query = (
        select(known_people.c.name, known_people.c.created_at, count)
        .select_from(known_people.outerjoin(face_samples, face_samples.c.person_id == known_people.c.id))
        .group_by(known_people.c.id, known_people.c.name, known_people.c.created_at)
        .order_by(known_people.c.name)
    )
    if name is not None:
        query = query.where(known_people.c.name == name)
    return [KnownPerson(row[0], int(row[2]), float(row[1])) for row in await connection.execute(query)]


async def add_person(connection: AsyncConnection, name: str) -> None:
    if await connection.scalar(select(known_people.c.id).where(known_people.c.name == name)) is not None:
        raise PersonExists(f"{name} is enrolled already")
    await connection.execute(insert(known_people).values(name=name, created_at=time.time()))
    await _bump(connection)


async def remove_person(connection: AsyncConnection, name: str) -> bool:
    """Deletes the person and every sample of theirs; False when there was nobody of that name."""
    person = await connection.scalar(select(known_people.c.id).where(known_people.c.name == name))
    if person is None:
        return False
    await connection.execute(delete(face_samples).where(face_samples.c.person_id == person))  # as the cascade does
    await connection.execute(delete(known_people).where(known_people.c.id == person))
    await _bump(connection)
    return True


async def add_sample(
    connection: AsyncConnection, name: str, embedding: np.ndarray, face_jpeg: bytes, source: str
) -> int:
    """Adds one sample to an enrolled person; LookupError when nobody has that name. Returns their count."""
    person = await connection.scalar(select(known_people.c.id).where(known_people.c.name == name))
    if person is None:
        raise LookupError(name)
    await connection.execute(insert(face_samples).values(
        person_id=person, embedding=np.ascontiguousarray(embedding, EMBEDDING).tobytes(), face_jpeg=face_jpeg,
        source=source[:100], created_at=time.time(),
    ))  # fmt: skip
    await _bump(connection)
    return int(await connection.scalar(select(func.count()).where(face_samples.c.person_id == person)) or 0)


async def gallery(connection: AsyncConnection) -> dict[str, np.ndarray]:
    """Every enrolled person with samples: name -> their embeddings, one a row."""
    rows = await connection.execute(
        select(known_people.c.name, face_samples.c.embedding).join(
            face_samples, face_samples.c.person_id == known_people.c.id
        )
    )
    found: dict[str, list[np.ndarray]] = {}
    for name, blob in rows:
        found.setdefault(name, []).append(np.frombuffer(blob, EMBEDDING))
    return {name: np.stack(vectors) for name, vectors in found.items()}


async def follow_faces(
    engine: AsyncEngine, on_change: Callable[[dict[str, np.ndarray]], None], stop: Callable[[], bool]
) -> None:
    """Call on_change(gallery) at start and whenever the faces revision moves, until stop()."""
    seen: int | None = None
    while not stop():
        try:
            async with connect(engine) as connection:
                now = await faces_revision(connection)
                if now != seen:
                    on_change(await gallery(connection))
                    seen = now
        except (SQLAlchemyError, DatabaseUnavailable, OSError) as e:
            log.warning("faces: cannot read the known faces (retrying): %s", type(e).__name__)
        await asyncio.sleep(FACES_POLL_S)


class KnownPeople:
    """The known people as the gateway changes them: each change in a writing connection of its own,
    retried while SQLite is locked by another process (shared.db.engine.retrying)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all(self) -> list[KnownPerson]:
        async with connect(self.engine) as connection:
            return await list_people(connection)

    async def enrol(self, name: str) -> KnownPerson:
        """PersonExists when the name is taken."""

        async def enrolled(connection: AsyncConnection) -> KnownPerson:
            await add_person(connection, name)
            await connection.commit()
            return (await list_people(connection, name))[0]

        return await retrying(self.engine, enrolled)

    async def forget(self, name: str) -> bool:
        """Whether there was such a person (their samples go with them)."""

        async def removed(connection: AsyncConnection) -> bool:
            gone = await remove_person(connection, name)
            await connection.commit()
            return gone

        return await retrying(self.engine, removed)

    async def add_sample(self, name: str, embedding: np.ndarray, face_jpeg: bytes, source: str) -> KnownPerson:
        """LookupError when nobody has that name."""

        async def added(connection: AsyncConnection) -> KnownPerson:
            await add_sample(connection, name, embedding, face_jpeg, source)
            await connection.commit()
            return (await list_people(connection, name))[0]

        return await retrying(self.engine, added)
