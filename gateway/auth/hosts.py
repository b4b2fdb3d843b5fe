"""Which Host names the gateway answers to, and which Origins may act with a visitor's cookie.

A Host check defeats DNS rebinding (a hostile name that resolves to this gateway would otherwise
be same-origin with it); an Origin check stops another web page from driving the API, or opening
a WebSocket, with the cookie of a logged-in visitor.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import ifaddr

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "localhost.localdomain", "ip6-localhost")


def default_hosts() -> set[str]:
    addresses = [
        ip.ip if isinstance(ip.ip, str) else ip.ip[0] for adapter in ifaddr.get_adapters() for ip in adapter.ips
    ]  # ifaddr gives IPv6 as (address, flowinfo, scope)
    names = {*LOOPBACK_NAMES, socket.gethostname(), socket.getfqdn(), *addresses}
    return {n.lower() for n in names if n}


def allowed_hosts(setting: str) -> set[str] | None:
    """The names from CAMSTREAM_ALLOWED_HOSTS (or the default); None: any host."""
    names = {n.strip().lower() for n in setting.split(",") if n.strip()}
    if "*" in names:
        return None
    return names or default_hosts()


def host_name(host_header: str) -> str:
    """`name:port`, `[v6]:port` or a bare name or address, as the name alone, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0].partition("%")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host.partition("%")[0]


def same_origin(origin: str, scheme: str, host_header: str, trusted: Iterable[str]) -> bool:
    """Whether a request's Origin (or Referer) is the gateway itself or a configured origin."""
    if origin in trusted:
        return True
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False  # "null" (a sandboxed frame, a file) is nobody we know
    web_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return parts.scheme.lower() == web_scheme and parts.netloc.lower() == host_header.strip().lower()
