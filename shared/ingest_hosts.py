"""Ingest on several hosts: a camera's placement settings, and each ingest host's record in Redis.

Every ingest manager keeps `camstream:ingest:host:{name}` (JSON, with the lease TTL) and its name
in the sorted set `camstream:ingest:hosts` (score: time of its last heartbeat); each camera it runs
holds `camstream:camera:{id}:ingest` (the host's name, with the lease TTL). ingest.leases writes
them; the gateway and `python -m ingest --check` read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.messages import MessageError, dump_json_record, known_fields, load_json_record, malformed

# A host's name and a group's: they are Redis key parts and log words, so kept plain.
HostName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class IngestConfig(BaseModel):
    """Where a camera may be ingested (several ingest hosts), and what it costs a host."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    group: HostName | None = Field(
        default=None,
        description="Run this camera only on ingest hosts of this group (CAMSTREAM_INGEST_GROUP): for a camera "
        "reachable from one network alone. Unset: any ingest host.",
    )
    weight: float | None = Field(
        default=None, gt=0, le=1000,
        description="What the camera costs an ingest host, in per cent of a core, for sharing cameras out evenly. "
        "Unset: estimated from the size and rate of the stream it decodes.",
    )  # fmt: skip


INGEST_HOST_VERSION = 1


@dataclass
class IngestHost:
    """One ingest manager's heartbeat and what it runs."""

    host: str
    pid: int
    cameras: dict[str, int | None]  # camera id: its process's pid (None while it is restarted)
    restarts: dict[str, int]
    updated_at_s: float
    group: str | None = None
    fenced: bool = False  # CAMSTREAM_INGEST_SHARED: cameras stop when their lease cannot be renewed
    load: float = 0.0  # the weights of its cameras (ingest.shares): estimated per cent of a core
    cpu_percent: float | None = None  # measured: the manager and its camera processes, per cent of a core
    cores: int | None = None
    unplaced: list[int] = field(default_factory=list)  # cameras no live host may run (their group has none)
    instance: str = ""  # a token of the manager's run: two managers under one name are told apart

    def encode(self) -> str:
        return dump_json_record(asdict(self), INGEST_HOST_VERSION)

    @classmethod
    def decode(cls, data: str | bytes) -> IngestHost:
        record = load_json_record(data, "ingest host", INGEST_HOST_VERSION)
        with malformed("ingest host"):
            found = cls(**known_fields(cls, record))
            if not isinstance(found.pid, int) or isinstance(found.pid, bool):
                raise MessageError("ingest host: pid is not a number")
            if not isinstance(found.host, str) or not isinstance(found.cameras, dict):
                raise MessageError("ingest host: host or cameras of the wrong type")
            return found
