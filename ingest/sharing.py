"""What the ingest manager should start and stop, each tick, for the cameras to be shared out.

Reads the live hosts, leases and sizes (ingest.leases), plans (ingest.shares) and answers: the
cameras now leased to this host (start them), those to give to another host (stop, then release
the lease), those lost (another host holds the lease, or, fenced, Redis has been silent too long:
stop, and release nothing). A move is made only once the plan has wanted it for MOVE_AFTER_S, so a
moment's odd view (a host's record late, Redis restarted empty) moves nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import redis

from ingest.leases import STOP_AT, HostLeases, Keep
from ingest.shares import Want, plan, weight
from shared.cameras import Camera
from shared.ingest_hosts import IngestHost
from shared.settings import Settings

log = logging.getLogger(__name__)

MOVE_AFTER_S = 2.0


@dataclass
class Decision:
    start: list[int] = field(default_factory=list)
    give: list[int] = field(default_factory=list)  # to another host: stop, then release the lease
    lost: list[int] = field(default_factory=list)  # not ours any more: stop, release nothing


class HostSharing:
    def __init__(self, leases: HostLeases, settings: Settings) -> None:
        self.leases = leases
        self.host, self.group, self.fenced = settings.ingest_host, settings.ingest_group, settings.ingest_shared
        self.ttl_s = settings.ingest_lease_ttl_s
        self.hosts: dict[str, IngestHost] = {}  # the live hosts, as last read
        self.load = 0.0
        self.unplaced: list[int] = []
        self._reached_at: float | None = None  # monotonic: the last tick Redis answered
        self._moving: dict[int, float] = {}  # camera: since when the plan puts it elsewhere
        self._redis_error: str | None = None

    def tick(self, wanted: dict[int, Camera], running: set[int], record: IngestHost, now: float) -> Decision:
        """`running`: the cameras this host runs (holds) now; `record`: its heartbeat, load left to fill."""
        record = replace(record, host=self.host, group=self.group, fenced=self.fenced, load=self.load,
                         unplaced=self.unplaced)  # fmt: skip
        try:
            self.hosts = self.leases.beat(record)
            holders = self.leases.holders(sorted(wanted))
            sizes = self.leases.sizes()
        except redis.RedisError as e:
            return self._unreachable(wanted, running, now, e)
        if self._redis_error is not None:
            log.info("Redis answers again: sharing cameras with %d live ingest host(s)", len(self.hosts))
        self._reached_at, self._redis_error = now, None
        for name, host in self.hosts.items():  # a lease lost with Redis's memory: its host's record says
            for camera in host.cameras:
                holders.setdefault(int(camera), name)
        wants = {c: Want(weight(camera, sizes.get(c)), camera.ingest.group) for c, camera in wanted.items()}
        placed = plan(wants, {name: host.group for name, host in self.hosts.items()}, holders)
        self._say_unplaced(sorted(set(wants) - set(placed)), wanted)
        self.load = round(sum(wants[c].weight for c in running if c in wants), 2)
        return self._decide(placed, running, now)

    def _decide(self, placed: dict[int, str], running: set[int], now: float) -> Decision:
        decision = Decision()
        kept = self.leases.keep_all(sorted(c for c in running if placed.get(c) == self.host))
        for camera in sorted(running):
            target = placed.get(camera)
            if target == self.host:
                self._moving.pop(camera, None)
                if kept[camera] is Keep.ELSEWHERE:
                    log.error("camera=%d its lease is held by another host: stopping it here", camera)
                    decision.lost.append(camera)
                continue
            since = self._moving.setdefault(camera, now)
            if now - since >= MOVE_AFTER_S:
                log.info("camera=%d moving to ingest host %s (evening the load)", camera, target or "none")
                self._moving.pop(camera)
                decision.give.append(camera)
        for camera, host in sorted(placed.items()):
            if host == self.host and camera not in running and self.leases.take(camera):
                log.info("camera=%d leased to this host (%s): starting it", camera, self.host)
                decision.start.append(camera)
        return decision

    def _unreachable(self, wanted: dict[int, Camera], running: set[int], now: float, error: Exception) -> Decision:
        if self._redis_error is None:
            log.warning("Redis unreachable (%s): %s", type(error).__name__,
                        "cameras stop before their leases lapse" if self.fenced else "cameras go on")  # fmt: skip
        self._redis_error = type(error).__name__
        if not self.fenced:  # one host: never reached Redis yet, so every camera is ours (as before sharing)
            start = sorted(set(wanted) - running) if self._reached_at is None else []
            return Decision(start=start)
        if self._reached_at is not None and now - self._reached_at < STOP_AT * self.ttl_s:
            return Decision()
        return Decision(lost=sorted(running))  # (each camera's process fences itself as well)

    def _say_unplaced(self, unplaced: list[int], wanted: dict[int, Camera]) -> None:
        for camera in sorted(set(unplaced) - set(self.unplaced)):
            log.warning("camera=%d no live ingest host is in its group %r: not running", camera,
                        wanted[camera].ingest.group)  # fmt: skip
        self.unplaced = unplaced
