"""Sharing cameras among analyzer workers: heartbeats, an even assignment, and leases.

Every worker heartbeats into one sorted set (score: time). Every second each worker reads
the live workers (heartbeat younger than the lease TTL) and computes the same assignment:
cameras sorted by id, dealt round-robin to workers sorted by id, so the split is even and
every worker agrees on it without talking. A worker only analyses a camera while it holds
the camera's lease, a key set with NX and a TTL, renewed by its owner; a camera that now
belongs elsewhere is released first, so two workers never hold it at once. A worker killed
with SIGKILL stops renewing: its leases and heartbeat lapse within the TTL (5 s) and the
others take its cameras at their next tick.

Renewal has a thread of its own (LeaseKeeper), on a timer, so that detector calls made slow by a
starved machine never cost a worker its cameras: under load a worker skips frames (counted), it
does not lose leases and hand its cameras back and forth.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from shared import keys
from shared.redis_client import RELEASE_IF_HELD

log = logging.getLogger(__name__)

# Renew or release only a lease we hold: compare and act in one step.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


def assignment(cameras: list[int], workers: list[str]) -> dict[int, str]:
    """Camera id -> worker id, the same on every worker that sees the same live set."""
    if not workers:
        return {}
    ordered = sorted(workers)
    return {camera: ordered[i % len(ordered)] for i, camera in enumerate(sorted(cameras))}


class Leases:
    def __init__(self, client: redis.Redis, worker_id: str, cameras: list[int], ttl_s: float) -> None:
        self.client = client
        self.worker_id = worker_id
        self.cameras = cameras
        self.ttl_ms = int(ttl_s * 1000)
        self.ttl_s = ttl_s
        self.held: set[int] = set()
        self.live_workers: list[str] = []
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(RELEASE_IF_HELD)

    def tick(self) -> tuple[set[int], set[int]]:
        """Heartbeat, then release and acquire toward the assignment. Returns (gained, lost)."""
        now = time.time()
        pipe = self.client.pipeline()
        pipe.zadd(keys.analyzer_workers(), {self.worker_id: now})
        pipe.zremrangebyscore(keys.analyzer_workers(), "-inf", now - self.ttl_s)
        pipe.zrange(keys.analyzer_workers(), 0, -1)
        live = [w.decode() for w in pipe.execute()[2]]
        self.live_workers = live
        mine = {c for c, w in assignment(self.cameras, live).items() if w == self.worker_id}
        lost = {c for c in self.held if c not in mine or not self.renew(c)}
        for camera in lost - mine:
            self._release(keys=[keys.camera_lease(camera)], args=[self.worker_id])
        self.held -= lost
        gained = set()
        for camera in mine - self.held:
            if self.client.set(keys.camera_lease(camera), self.worker_id, nx=True, px=self.ttl_ms):
                gained.add(camera)
        self.held |= gained
        return gained, lost

    def renew(self, camera: int) -> bool:
        """Extend our lease; False if it is no longer ours (we stalled past the TTL)."""
        return bool(self._renew(keys=[keys.camera_lease(camera)], args=[self.worker_id, self.ttl_ms]))

    def renew_held(self, client: redis.Redis) -> set[int]:
        """Heartbeat, keep the worker's status record, and renew every lease held, in one round trip
        on `client` (the keeper's own). Returns the cameras whose lease is no longer ours."""
        held = sorted(self.held)
        pipe = client.pipeline(transaction=False)
        pipe.zadd(keys.analyzer_workers(), {self.worker_id: time.time()})
        pipe.pexpire(keys.analyzer_status(self.worker_id), self.ttl_ms)  # a late tick must not blank it
        for camera in held:
            self._renew(keys=[keys.camera_lease(camera)], args=[self.worker_id, self.ttl_ms], client=pipe)
        renewed = pipe.execute()[2:]
        return {camera for camera, ok in zip(held, renewed, strict=True) if not ok}

    def release_all(self) -> None:
        for camera in self.held:
            self._release(keys=[keys.camera_lease(camera)], args=[self.worker_id])
        self.held.clear()
        self.client.zrem(keys.analyzer_workers(), self.worker_id)


class LeaseKeeper(threading.Thread):
    """Renews the worker's heartbeat and leases every quarter TTL, whatever the detectors are doing
    (their native code releases the GIL). What it finds lost, the worker's loop gives up."""

    def __init__(self, leases: Leases, client: redis.Redis) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.leases = leases
        self.every_s = leases.ttl_s / 4
        self._client = client
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._lost: set[int] = set()
        self.renewed_at = time.monotonic()  # the last time every held lease was known to be ours

    def run(self) -> None:
        while not self._halt.wait(self.every_s):
            self.renew_once()
        self._client.close()

    def renew_once(self) -> None:
        try:
            lost = self.leases.renew_held(self._client)
        except redis.RedisError:
            return  # the worker's loop says so, and gives its cameras up once the TTL has passed
        with self._lock:
            self._lost |= lost
        self.renewed_at = time.monotonic()

    def stop(self) -> None:
        """Before the worker releases its leases: no heartbeat may follow its goodbye."""
        self._halt.set()
        if self.is_alive():
            self.join()

    def take_lost(self) -> set[int]:
        with self._lock:
            lost, self._lost = self._lost, set()
        return lost
