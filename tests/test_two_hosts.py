"""Two hosts sharing one Redis: network namespaces joined by a veth pair, an analyzer worker in each.

Redis and worker A live in namespace A; worker B in namespace B reaches Redis over the veth
link by A's IPv6 link-local address (the namespaces' own addresses, nothing else). Killing
A's worker hands its cameras to B. Needs root and iproute2; skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from shared.embedded_redis import find_redis_server, free_port
from tests.support import ROOT, read_detections, wait_until, worker_statuses, write_camera_file
from tests.support.netns import ip, namespace_of, redis_in

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and iproute2")


@dataclass
class Hosts:
    a: str
    b: str
    redis_port: int
    url_from_a: str
    url_from_b: str


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    tag = uuid.uuid4().hex[:6]
    a, b, veth_a, veth_b = f"cs-a-{tag}", f"cs-b-{tag}", f"csa{tag}", f"csb{tag}"
    port = free_port()
    redis_server: subprocess.Popen[bytes] | None = None
    try:
        ip("netns", "add", a)
        ip("netns", "add", b)
        ip("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        ip("link", "set", veth_a, "netns", a)
        ip("link", "set", veth_b, "netns", b)
        for ns, dev, address in ((a, veth_a, "fe80::a"), (b, veth_b, "fe80::b")):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{address}/64", "dev", dev, "nodad")
            ip("-n", ns, "link", "set", dev, "up")
        redis_server = subprocess.Popen(
            # "::" inside namespace A: its loopback and its end of the veth link, nothing else.
            ["ip", "netns", "exec", a, find_redis_server(), "--bind", "::", "--port", str(port),
             "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        hosts = Hosts(a, b, port, f"redis://[::1]:{port}/0", f"redis://[fe80::a%25{veth_b}]:{port}/0")
        wait_until(lambda: _pings(hosts), 10.0, what="Redis reachable from namespace B")
        yield hosts
    finally:
        if redis_server is not None:
            redis_server.send_signal(signal.SIGTERM)
            redis_server.wait(10)
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _pings(hosts: Hosts) -> bool:
    probe = "import redis, sys; sys.exit(0 if redis.Redis.from_url(sys.argv[1], socket_timeout=1).ping() else 1)"
    done = subprocess.run(["ip", "netns", "exec", hosts.b, sys.executable, "-c", probe, hosts.url_from_b],
                          capture_output=True, check=False, timeout=10)  # fmt: skip
    return done.returncode == 0


def _in_namespace(ns: str, url: str, module: str, cameras: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CAMSTREAM_REDIS_URL": url, "CAMSTREAM_CAMERAS_FILE": str(cameras)}
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", module], cwd=ROOT, env=env,
                                stdout=output, stderr=subprocess.STDOUT)  # fmt: skip


def test_workers_on_two_hosts_share_cameras_and_take_over(hosts: Hosts, tmp_path: Path) -> None:
    cameras = write_camera_file(tmp_path, [
        {"id": i, "name": f"demo {i}", "source": f"demo:cam{i}?size=320x240", "fps": 5, "analysis": {"fps": 5}}
        for i in (1, 2, 3, 4)
    ])  # fmt: skip
    processes = [
        _in_namespace(hosts.a, hosts.url_from_a, "ingest", cameras, tmp_path / "ingest.log"),
        _in_namespace(hosts.a, hosts.url_from_a, "analyzer", cameras, tmp_path / "analyzer-a.log"),
        _in_namespace(hosts.b, hosts.url_from_b, "analyzer", cameras, tmp_path / "analyzer-b.log"),
    ]
    worker_a = processes[1]
    try:
        # The test reads Redis from inside namespace A too: it does not leave the namespaces.
        with redis_in(hosts.a, hosts.redis_port) as client:
            owners = wait_until(lambda: _owners(client) if len(set(_owners(client).values())) == 2 else None, 40.0,
                                interval_s=0.5, what="both hosts' workers analysing")  # fmt: skip
            assert sorted(list(owners.values()).count(w) for w in set(owners.values())) == [2, 2]
            pid_of = {w: s.pid for w, s in worker_statuses(client).items()}
            a_id = next(w for w, pid in pid_of.items() if namespace_of(pid) == hosts.a)
            b_id = next(w for w in pid_of if w != a_id)
            os.kill(pid_of[a_id], signal.SIGKILL)
            killed = time.time()
            for camera in [c for c, w in owners.items() if w == a_id]:
                wait_until(lambda c=camera: any(d.worker == b_id and d.analysed_at_s > killed
                                                for d in read_detections(client, c)),
                           12.0, interval_s=0.5, what=f"camera {camera} taken over by host B")  # fmt: skip
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        assert worker_a.poll() is not None


def _owners(client: redis.Redis) -> dict[int, str]:
    return {int(c): w for w, s in worker_statuses(client).items() for c in s.cameras}
