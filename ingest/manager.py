"""The ingest manager: one OS process per camera this host runs, restarted when it dies.

With several ingest hosts on one Redis, each runs the cameras it holds the lease of (ingest.leases),
shared out by weight and group (ingest.shares): a host that dies has its cameras started by the
others within the lease TTL, and a host that comes back takes its share again. Alone, a host runs
every enabled camera.

Each camera runs as `python -m ingest --camera ID`, a process of its own, so a camera
that crashes, hangs in a decoder or leaks memory touches no other camera; it is forked from a warm
fork server (ingest.forks), which spares it a second of imports.

Cameras added, changed or deleted at run time (the API, shared.db.watch) are applied to that
camera alone: a new one's process starts, a changed one's restarts, a deleted (or disabled)
one's stops; every other camera's process is left as it is.

Camera processes outlive a manager that crashed (ingest.locks): the next manager adopts every one
still running its camera as the database has it, so a manager's death costs no frame; it restarts
those running an older definition and stops those of cameras gone meanwhile. A clean stop
(SIGTERM) stops them all, adopted ones included.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest import locks
from ingest.backoff import Backoff
from ingest.cpu import CpuMeter
from ingest.forks import Forked, ForkServer, PidProcess, server_env
from ingest.leases import HostLeases
from ingest.sharing import HostSharing
from shared.cameras import Camera, definition_of
from shared.ingest_hosts import IngestHost
from shared.redis_client import sync_client
from shared.settings import Settings

log = logging.getLogger(__name__)

POLL_S = 0.5


class Adopted(PidProcess):
    """A camera process this manager did not start (a predecessor did): watched through its lock,
    signalled by pid (the lock held means the pid is still that process)."""

    def __init__(self, pid: int, lock: Path) -> None:
        super().__init__(pid)
        self._lock = lock

    def poll(self) -> int | None:
        if self.returncode is None and not locks.held(self._lock):
            self.returncode = -1  # not our child: its exit status is its new parent's
        return self.returncode


Process = subprocess.Popen[bytes] | Adopted | Forked


@dataclass
class _Child:
    camera: Camera
    backoff: Backoff
    process: Process | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    restarts: int = field(default=0)


class IngestManager:
    def __init__(self, settings: Settings, cameras: list[Camera]) -> None:
        self.settings = settings
        self._cameras_file = settings.cameras_file
        self._wanted = {c.id: c for c in cameras if c.enabled}
        self._children: dict[int, _Child] = {}  # the cameras this host runs: it holds their leases
        self._client = sync_client(settings.redis_url_or_local(), settings.redis_timeout_s)
        self._sharing = HostSharing(HostLeases(self._client, settings), settings)
        self._changes: queue.SimpleQueue[list[Camera]] = queue.SimpleQueue()
        self._locks = locks.lock_folder(settings.data_dir, settings.ingest_host)
        self._held = locks.take(self._locks / "manager.lock", wait_s=5.0)  # shared: every manager's
        if self._held is None:
            log.warning("could not share %s: camera processes may think no manager runs", self._locks / "manager.lock")
        self._cpu = CpuMeter()
        self._env = server_env(self._cameras_file)
        self._forks = ForkServer(self._env) if settings.ingest_fork_server else None
        self._adopt()

    def _new_child(self, camera: Camera) -> _Child:
        return _Child(camera, Backoff(self.settings.backoff_initial_s, self.settings.backoff_max_s,
                                      self.settings.backoff_reset_after_s))  # fmt: skip

    def _adopt(self) -> None:
        """Take over the camera processes a predecessor on this host left running (ingest.locks)."""
        for camera_id in locks.running_cameras(self._locks):
            found = locks.running(self._locks, camera_id)
            if found is None:
                continue
            pid, mark = found
            process = Adopted(pid, locks.camera_lock_path(self._locks, camera_id))
            camera = self._wanted.get(camera_id)
            if camera is not None and mark == locks.fingerprint(camera):
                child = self._children[camera_id] = self._new_child(camera)
                child.process, child.started_at = process, time.monotonic()
                log.info("camera=%d adopted its running process (pid %d): no frame lost", camera_id, pid)
                continue
            why = "changed meanwhile" if camera is not None else "deleted or disabled meanwhile"
            log.info("camera=%d %s: stopping the process left running (pid %d)", camera_id, why, pid)
            self._stop_processes({camera_id: process})

    def cameras_changed(self, cameras: list[Camera]) -> None:
        """The database's cameras now (any thread): applied by the supervising loop."""
        self._changes.put(cameras)

    def _apply(self, cameras: list[Camera]) -> None:
        self._wanted = {c.id: c for c in cameras if c.enabled}
        for camera_id, child in list(self._children.items()):
            camera = self._wanted.get(camera_id)
            if camera is None:
                log.info("camera=%d deleted or disabled: stopping its process", camera_id)
                self._give_up([camera_id], release=True)
            elif camera != child.camera:
                log.info("camera=%d changed: restarting its process", camera_id)
                self._stop_child(child)
                child.camera, child.restart_at = camera, 0.0
        # New cameras start where the next plan puts them (ingest.leases.HostSharing).

    def _stop_child(self, child: _Child) -> None:
        process, child.process = child.process, None
        if process is not None:
            self._stop_processes({child.camera.id: process})

    def _give_up(self, camera_ids: list[int], *, release: bool) -> None:
        """Stop these cameras' processes (together) and forget them; their leases released if asked."""
        processes = {c: p for c in camera_ids if (p := self._children.pop(c).process) is not None}
        self._stop_processes(processes)
        if release:
            for camera_id in camera_ids:
                self._sharing.leases.release(camera_id)

    def _stop_processes(self, processes: dict[int, Process]) -> None:
        running = {c: p for c, p in processes.items() if p.poll() is None}
        for process in running.values():
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_timeout_s
        for camera_id, process in running.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("camera=%d process %d ignored SIGTERM; killing it", camera_id, process.pid)
                process.kill()
                process.wait()

    def run(self, stop: threading.Event) -> int:
        log.info("ingest manager on host %s: %d camera(s) enabled, %d running here already", self.settings.ingest_host,
                 len(self._wanted), len(self._children))  # fmt: skip
        try:
            while not stop.is_set():
                while not self._changes.empty():
                    self._apply(self._changes.get())
                now = time.monotonic()
                self._share(now)
                for child in self._children.values():
                    self._supervise(child, now)
                stop.wait(POLL_S)
        finally:
            self._give_up(list(self._children), release=True)
            if self._forks is not None:
                self._forks.stop()
            self._sharing.leases.leave()
            self._client.close()
            log.info("ingest manager stopped")
        return 0

    def _share(self, now: float) -> None:
        """Start the cameras the plan gives this host, stop those it gives elsewhere (ingest.sharing)."""
        decision = self._sharing.tick(self._wanted, set(self._children), self._record(), now)
        if decision.lost:
            self._give_up(decision.lost, release=False)
        if decision.give:
            self._give_up(decision.give, release=True)
        for camera_id in decision.start:
            if camera_id in self._wanted and camera_id not in self._children:
                self._children[camera_id] = self._new_child(self._wanted[camera_id])

    def _supervise(self, child: _Child, now: float) -> None:
        process = child.process
        if process is not None and process.poll() is None:
            if now - child.started_at >= self.settings.backoff_reset_after_s:
                child.backoff.succeeded_at(child.started_at)
            return
        if process is not None:
            child.process = None
            if process.returncode == locks.EXIT_ALREADY_RUNNING and self._adopt_holder(child):
                return
            delay = child.backoff.next_delay(now)
            child.restart_at = now + delay
            code = "unknown (adopted)" if isinstance(process, Adopted) else process.returncode
            log.warning("camera=%d process exited with code %s; restarting in %.1f s", child.camera.id, code, delay)
            return
        if now >= child.restart_at:
            if child.started_at:
                child.restarts += 1
            child.process = self._spawn(child.camera)
            child.started_at = now

    def _adopt_holder(self, child: _Child) -> bool:
        """The new process found its camera running already (started by another manager, or left by
        one just gone): watch that one instead, if it runs the camera as it is now."""
        found = locks.running(self._locks, child.camera.id)
        if found is None or found[1] != locks.fingerprint(child.camera):
            return False
        child.process = Adopted(found[0], locks.camera_lock_path(self._locks, child.camera.id))
        log.info("camera=%d runs already (pid %d): adopted", child.camera.id, found[0])
        return True

    def _spawn(self, camera: Camera) -> Process:
        # The camera's definition goes down a pipe (its password is in it: never on the command line),
        # so the camera's process starts without loading the database (a second or two less).
        if self._forks is not None and (forked := self._forks.fork(camera.id, definition_of(camera))) is not None:
            log.info("camera=%d process forked (pid %d): %s", camera.id, forked.pid, camera.name)
            return forked
        command = [sys.executable, "-m", "ingest", "--camera", str(camera.id), "--camera-on-stdin"]
        # Not tied to this process's life (no PR_SET_PDEATHSIG): should the manager die, the camera
        # goes on, and the next manager adopts it (ingest.locks).
        process = subprocess.Popen(command, env=self._env, stdin=subprocess.PIPE)
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died at once: supervised like any other exit
            process.stdin.write(json.dumps(definition_of(camera)).encode())
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        log.info("camera=%d process started (pid %d): %s", camera.id, process.pid, camera.name)
        return process

    def _record(self) -> IngestHost:
        """This host's heartbeat (ingest.sharing fills in its share)."""
        pids = [c.process.pid for c in self._children.values() if c.process is not None]
        return IngestHost(
            host=self.settings.ingest_host,
            pid=os.getpid(),
            cameras={str(i): c.process.pid if c.process else None for i, c in sorted(self._children.items())},
            restarts={str(i): c.restarts for i, c in sorted(self._children.items())},
            updated_at_s=time.time(),
            cpu_percent=self._cpu.read([os.getpid(), *pids]),
            cores=os.cpu_count(),
        )
