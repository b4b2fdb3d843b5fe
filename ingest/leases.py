"""Cameras shared out to ingest hosts through Redis: host heartbeats, camera leases, and fencing.

Each ingest manager heartbeats its host record (shared.ingest_hosts) every tick and reads the live
hosts, the camera leases and the cameras' sizes; ingest.shares turns them into the plan every host
agrees on. A host runs a camera only while it holds the camera's lease, `camstream:camera:{id}:ingest`
= its host name, taken with SET NX and a TTL, renewed by the camera's own process every
RENEW_EVERY of the TTL (LeaseGuard) and by the manager's tick.

Fencing (CAMSTREAM_INGEST_SHARED): a lease renewed by a request sent at time t cannot lapse before
t + TTL, so a camera process that has confirmed nothing since t stops itself at t + STOP_AT x TTL
(a clean stop: the segment closed) and, should the stop hang, exits at t + EXIT_AT x TTL: before
any other host can take the camera, whatever cut it off (Redis gone, the network split, the
process paused). Every frame and access unit is checked against the same deadline before it is
written, so a process that wakes from a pause writes nothing once the deadline has passed.
Without CAMSTREAM_INGEST_SHARED (one host), a camera goes on while Redis is away; either way a
camera whose lease another host holds stops at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from dataclasses import replace
from enum import Enum

import redis

from shared import keys
from shared.ingest_hosts import IngestHost
from shared.messages import MessageError
from shared.redis_client import KEEP_OR_TAKE, RELEASE_IF_HELD, sync_client
from shared.settings import Settings

log = logging.getLogger(__name__)

RENEW_EVERY = 0.2  # of the TTL: five tries before a lease could lapse
STOP_AT = 0.5  # of the TTL since the last renewal confirmed: stop cleanly
EXIT_AT = 0.8  # of the TTL: exit at once, whatever the clean stop is doing
CLASH_SAY_EVERY_S = 60.0
EXIT_FENCED = 76  # a camera's process that could not confirm its lease (the manager restarts it later)


class Keep(Enum):
    OURS = "ours"
    ELSEWHERE = "elsewhere"  # another host holds it
    UNKNOWN = "unknown"  # Redis did not answer


class HostLeases:
    """The manager's side: its heartbeat, what the others are doing, taking and giving back leases."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client, self.host = client, settings.ingest_host
        self.ttl_s = settings.ingest_lease_ttl_s
        self._ttl_ms = int(self.ttl_s * 1000)
        self._keep = client.register_script(KEEP_OR_TAKE)
        self._release = client.register_script(RELEASE_IF_HELD)
        self.instance = uuid.uuid4().hex  # this manager's, in its record: told apart from another of the same name
        self._started_at = time.time()
        self._clash_said_at = -float("inf")

    def beat(self, record: IngestHost) -> dict[str, IngestHost]:
        """Write our record, drop hosts silent past the TTL; the live hosts' records (ours among them)."""
        now = time.time()
        record = replace(record, instance=self.instance)
        pipe = self.client.pipeline(transaction=False)
        pipe.set(keys.ingest_host(self.host), record.encode(), px=self._ttl_ms, get=True)
        pipe.zadd(keys.ingest_hosts(), {self.host: now})
        pipe.zremrangebyscore(keys.ingest_hosts(), "-inf", now - self.ttl_s)
        pipe.zrange(keys.ingest_hosts(), 0, -1)
        replaced, _, _, names = pipe.execute()
        self._say_if_named_twice(replaced)
        return {**live_hosts(self.client, [text(n) for n in names]), self.host: record}

    def _say_if_named_twice(self, replaced: bytes | None) -> None:
        """Another manager wrote our name's record since we started: two hosts share a name, and each
        would take the other's leases for its own. Said loudly, once a minute."""
        if replaced is None:
            return
        with contextlib.suppress(MessageError):
            other = IngestHost.decode(replaced)
            clash = other.instance not in ("", self.instance) and other.updated_at_s > self._started_at
            if clash and time.monotonic() - self._clash_said_at >= CLASH_SAY_EVERY_S:
                self._clash_said_at = time.monotonic()
                log.error("another ingest manager (pid %d) runs under this host's name %r: give every ingest "
                          "host a name of its own (CAMSTREAM_INGEST_HOST), or cameras may run twice",
                          other.pid, self.host)  # fmt: skip

    def holders(self, camera_ids: list[int]) -> dict[int, str]:
        """Who holds each camera's lease now (cameras nobody holds left out)."""
        if not camera_ids:
            return {}
        found = self.client.mget([keys.ingest_lease(c) for c in camera_ids])
        return {c: text(h) for c, h in zip(camera_ids, found, strict=True) if h is not None}

    def sizes(self) -> dict[int, tuple[int, int]]:
        found: dict[int, tuple[int, int]] = {}
        for camera, size in self.client.hgetall(keys.ingest_sizes()).items():
            with contextlib.suppress(ValueError):
                width, _, height = text(size).partition("x")
                found[int(camera)] = (int(width), int(height))
        return found

    def take(self, camera_id: int) -> bool:
        """The lease, if nobody holds it (or we do already)."""
        return self.keep(camera_id) is Keep.OURS

    def keep(self, camera_id: int) -> Keep:
        try:
            ours = self._keep(keys=[keys.ingest_lease(camera_id)], args=[self.host, self._ttl_ms])
        except redis.RedisError:
            return Keep.UNKNOWN
        return Keep.OURS if ours else Keep.ELSEWHERE

    def keep_all(self, camera_ids: list[int]) -> dict[int, Keep]:
        """keep() for each camera, in one round trip."""
        if not camera_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for camera_id in camera_ids:
            self._keep(keys=[keys.ingest_lease(camera_id)], args=[self.host, self._ttl_ms], client=pipe)
        try:
            answers = pipe.execute()
        except redis.RedisError:
            return dict.fromkeys(camera_ids, Keep.UNKNOWN)
        return {c: Keep.OURS if ours else Keep.ELSEWHERE for c, ours in zip(camera_ids, answers, strict=True)}

    def release(self, camera_id: int) -> None:
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[keys.ingest_lease(camera_id)], args=[self.host])

    def leave(self) -> None:
        """A clean stop: the others need not wait out our TTL."""
        with contextlib.suppress(redis.RedisError):
            self.client.zrem(keys.ingest_hosts(), self.host)
            self.client.delete(keys.ingest_host(self.host))


def text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def live_hosts(client: redis.Redis, names: list[str]) -> dict[str, IngestHost]:
    """The records of these hosts that still live and can be read."""
    if not names:
        return {}
    found = {}
    for name, raw in zip(names, client.mget([keys.ingest_host(n) for n in names]), strict=True):
        if raw is not None:
            with contextlib.suppress(MessageError):
                found[name] = IngestHost.decode(raw)
    return found


class LeaseGuard:
    """The camera process's side: renews its camera's lease (a thread), and fences the camera (another
    thread, on deadlines alone, so that a Redis call hanging cannot delay it)."""

    def __init__(self, settings: Settings, camera_id: int, stop: threading.Event) -> None:
        self.camera_id, self.host, self.fenced = camera_id, settings.ingest_host, settings.ingest_shared
        self.ttl_s = settings.ingest_lease_ttl_s
        # A client of its own, its timeout short: a renewal must not wait long on a dead socket.
        self._client = sync_client(settings.redis_url_or_local(), RENEW_EVERY * self.ttl_s)
        self._stop, self._halt = stop, threading.Event()
        self._keep = self._client.register_script(KEEP_OR_TAKE)
        self.confirmed_at = -float("inf")  # monotonic time the last confirmed renewal was sent
        self.elsewhere: str | None = None  # the host found holding our camera

    def confirm(self) -> Keep:
        """Renew (or take back) the lease once; the answer kept, and the time it counts from."""
        sent = time.monotonic()
        try:
            ours = self._keep(keys=[keys.ingest_lease(self.camera_id)], args=[self.host, int(self.ttl_s * 1000)])
        except redis.RedisError:
            return Keep.UNKNOWN
        if not ours:
            with contextlib.suppress(redis.RedisError):
                holder = self._client.get(keys.ingest_lease(self.camera_id))
                self.elsewhere = text(holder) if holder else "another host"
            return Keep.ELSEWHERE
        self.confirmed_at = sent
        return Keep.OURS

    def may_write(self) -> bool:
        """Whether a frame or unit may be written now: the lease is ours (or, unfenced, not known to be
        another's). A monotonic clock read: cheap enough for every frame."""
        if self.elsewhere is not None:
            return False
        return not self.fenced or time.monotonic() < self.confirmed_at + EXIT_AT * self.ttl_s

    def start(self) -> None:
        threading.Thread(target=self._renew, name="lease-renew", daemon=True).start()
        if self.fenced:
            threading.Thread(target=self._fence, name="lease-fence", daemon=True).start()

    def _renew(self) -> None:
        while not self._halt.wait(RENEW_EVERY * self.ttl_s):
            if self.confirm() is Keep.ELSEWHERE:
                log.error("camera=%d its lease is held by %s: stopping (a camera never runs on two hosts)",
                          self.camera_id, self.elsewhere)  # fmt: skip
                self._stop.set()
                return

    def _fence(self) -> None:
        while not self._halt.is_set():
            confirmed = self.confirmed_at
            if self._sleep_until(confirmed + STOP_AT * self.ttl_s) and self.confirmed_at == confirmed:
                log.warning("camera=%d lease unconfirmed for %.1f s (Redis unreachable?): stopping the camera before "
                            "its lease can lapse, for another host to take it", self.camera_id,
                            time.monotonic() - confirmed)  # fmt: skip
                self._stop.set()
                if self._sleep_until(confirmed + EXIT_AT * self.ttl_s) and self.confirmed_at == confirmed:
                    log.error("camera=%d did not stop in time: exiting before its lease can lapse", self.camera_id)
                    logging.shutdown()
                    os._exit(EXIT_FENCED)

    def _sleep_until(self, deadline: float) -> bool:
        """Sleep to the deadline; False if halted meanwhile."""
        return not self._halt.wait(max(0.0, deadline - time.monotonic()))

    def halt(self) -> None:
        """At the end of the camera's run. The lease is not released here but by the manager once this
        process has exited (or it lapses): another host starts the camera only after this one is gone."""
        self._halt.set()
        self._client.close()
