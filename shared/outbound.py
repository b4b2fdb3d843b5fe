"""Where admin-configured features may connect: webhooks, notification services with a server of
their own, and the camera probe. Without a limit they reach what only this machine should: the
cloud's metadata service (169.254.169.254: the host's credentials), Redis and PostgreSQL on
loopback, and any port of the LAN, with the answer shown back.

Refused by default (DEFAULT_DENY): link-local and cloud metadata addresses, loopback and this
machine's own addresses, the unspecified, multicast and broadcast ones. CAMSTREAM_OUTBOUND_DENY
adds ranges (a careful LAN adds RFC 1918's private ranges, less its cameras'
subnet); CAMSTREAM_OUTBOUND_ALLOW exempts ranges from both (a Home Assistant or an RTSP restreamer
on this machine: 127.0.0.1/32). Every address a name resolves to is checked, before any packet is
sent to it; a name that resolves to nothing is refused.

What remains: a name resolved again by the HTTP client a moment later may answer differently (DNS
rebinding); a deny-list narrows what an admin account can reach, it does not make a hostile admin
safe.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import ifaddr

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_DENY = (
    "169.254.0.0/16", "fe80::/10",  # link-local, where cloud metadata services answer
    "fd00:ec2::254/128", "100.100.100.200/32",  # AWS's IPv6 and Alibaba's metadata addresses
    "127.0.0.0/8", "::1/128",  # this machine's own services (Redis, PostgreSQL, ...)
    "0.0.0.0/8", "::/128",  # "this host"
    "224.0.0.0/4", "ff00::/8", "255.255.255.255/32",  # multicast and broadcast
)  # fmt: skip
RESOLVE_TIMEOUT_S = 5.0


class OutboundDenied(Exception):
    """The target is refused; the text says which address and which setting permits it."""


def parse_networks(text: str, setting: str) -> tuple[Network, ...]:
    """`198.51.100.0/24, 192.0.2.7` as networks. Raises ValueError naming the setting."""
    networks = []
    for item in filter(None, (i.strip() for i in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{setting}: {item[:60]!r} is not an address or CIDR range") from None
    return tuple(networks)


def own_addresses() -> tuple[Network, ...]:
    """This machine's interface addresses, each as a one-address network."""
    found: list[Network] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip
            try:
                found.append(ipaddress.ip_network(str(address).split("%")[0]))
            except ValueError:
                continue
    return tuple(found)


@dataclass(frozen=True)
class OutboundPolicy:
    deny: tuple[Network, ...]
    allow: tuple[Network, ...] = ()

    @classmethod
    def of(cls, deny: str = "", allow: str = "") -> OutboundPolicy:
        """The default deny-list and this machine's addresses, plus `deny`, less `allow` (the settings'
        CAMSTREAM_OUTBOUND_DENY and CAMSTREAM_OUTBOUND_ALLOW)."""
        defaults = tuple(ipaddress.ip_network(n) for n in DEFAULT_DENY)
        return cls(
            defaults + own_addresses() + parse_networks(deny, "CAMSTREAM_OUTBOUND_DENY"),
            parse_networks(allow, "CAMSTREAM_OUTBOUND_ALLOW"),
        )

    def check_address(self, address: Address) -> None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(address in n for n in self.allow if n.version == address.version):
            return
        if any(address in n for n in self.deny if n.version == address.version):
            raise OutboundDenied(f"{address} is refused by the outbound deny-list (CAMSTREAM_OUTBOUND_ALLOW "
                                 "permits a range; docs/security.md)")  # fmt: skip

    async def check_host(self, host: str, port: int | None, resolve: bool = True) -> None:
        """Refuse a host that is, or resolves to, a denied address. With `resolve` False only a
        literal address (or localhost) is checked: a name is not looked up."""
        literal = _literal(host)
        if literal is not None:
            self.check_address(literal)
            return
        if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
            self.check_address(ipaddress.ip_address("127.0.0.1"))
            return
        if not resolve:
            return
        self.check_addresses(await _resolve(host, port))

    def check_addresses(self, addresses: Iterable[Address]) -> None:
        found = list(addresses)
        if not found:
            raise OutboundDenied("the name resolves to no address")
        for address in found:
            self.check_address(address)

    async def check_url(self, url: str, resolve: bool = True) -> None:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname:
            await self.check_host(parts.hostname, port, resolve)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


async def _resolve(host: str, port: int | None) -> list[Address]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S)
    except (OSError, TimeoutError, UnicodeError):
        raise OutboundDenied("the name cannot be resolved") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
