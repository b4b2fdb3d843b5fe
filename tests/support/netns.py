"""Hosts for the multi-host tests: network namespaces on one Ethernet segment, IPv6 link-local only.

`hosts(n)` makes n namespaces whose veth links meet on a bridge in the last one (the "hub" host):
host i has fe80::i on its link, so every host reaches every other by link-local address and
nothing else. Every host's link has the same name (LINK, names are per namespace), so an address
with its zone (`fe80::1%lan0`) means the same host from anywhere, as a host name would: what a
host advertises for others to reach it (a recorder's CAMSTREAM_RECORDINGS_URL) works.
`run_in(ns, fn)` runs fn on a thread that entered the namespace, so the sockets fn
makes (a Redis client, an HTTP request) are that host's. Needs root and iproute2.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import redis

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
LINK = "lan0"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Host:
    ns: str
    link: str  # its end of the segment (the zone of link-local addresses)
    address: str  # its link-local address

    def url_of(self, other: Host, scheme: str, port: int, path: str = "") -> str:
        """How this host reaches `other` (itself by loopback)."""
        where = "[::1]" if other is self else f"[{other.address}%25{self.link}]"
        return f"{scheme}://{where}:{port}{path}"


@contextlib.contextmanager
def hosts(count: int) -> Iterator[list[Host]]:
    tag = uuid.uuid4().hex[:5]
    made: list[Host] = []
    try:
        for i in range(1, count + 1):
            ns = f"cs{i}-{tag}"
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
            made.append(Host(ns, LINK, f"fe80::{i}"))
        hub = made[-1]
        ip("-n", hub.ns, "link", "add", hub.link, "type", "bridge")
        for i, host in enumerate(made[:-1], start=1):
            port, end = f"vp{i}{tag}", f"ve{i}{tag}"  # unique while both ends are in this namespace
            ip("link", "add", end, "type", "veth", "peer", "name", port)
            ip("link", "set", end, "netns", host.ns)
            ip("-n", host.ns, "link", "set", end, "name", host.link)
            ip("link", "set", port, "netns", hub.ns)
            ip("-n", hub.ns, "link", "set", port, "master", hub.link)
            ip("-n", hub.ns, "link", "set", port, "up")
        for host in made:
            ip("-n", host.ns, "addr", "add", f"{host.address}/64", "dev", host.link, "nodad")
            ip("-n", host.ns, "link", "set", host.link, "up")
        yield made
    finally:
        for host in made:
            subprocess.run(["ip", "netns", "del", host.ns], capture_output=True, check=False)


def set_link(host: Host, up: bool) -> None:
    """Cut the host off the segment (a network partition), or join it again."""
    ip("-n", host.ns, "link", "set", host.link, "up" if up else "down")


def run_in(ns: str, fn: Callable[[], T]) -> T:
    """fn's result, fn run on a thread inside the namespace (its sockets are made there)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def inside() -> None:
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
        try:
            result.append(fn())
        except BaseException as e:
            failure.append(e)

    thread = threading.Thread(target=inside, name=f"in-{ns}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def redis_in(ns: str, port: int) -> redis.Redis:
    """A Redis client whose socket is made inside the namespace (to the Redis on its loopback)."""

    def connected() -> redis.Redis:
        client = redis.Redis(host="::1", port=port, socket_timeout=5)
        client.ping()  # connect now, on the namespace's thread; the pooled socket stays there
        return client

    return run_in(ns, connected)


def _setns(fd: int) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def namespace_inode(ns: str) -> int:
    return os.stat(f"/run/netns/{ns}").st_ino


def process_namespace(pid: int) -> int | None:
    """The inode of the process's network namespace (None: it is gone)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def namespace_of(pid: int) -> str | None:
    done = subprocess.run(["ip", "netns", "identify", str(pid)], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None
