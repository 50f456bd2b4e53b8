"""Which outbound URLs and addresses Leadvane may reach (SSRF guard), on plain data: no DNS, no sockets.

services.integrations.outbound resolves host names and applies these rules at save time, at connect time
and on redirects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# (networks, what we call them); checked in order, first match names the refusal.
_CLASSES: tuple[tuple[tuple[IPNetwork, ...], str], ...] = (
    ((_V4("0.0.0.0/8"), _V6("::/128")), "unspecified"),
    ((_V4("127.0.0.0/8"), _V6("::1/128")), "loopback"),
    ((_V4("10.0.0.0/8"), _V4("172.16.0.0/12"), _V4("192.168.0.0/16"), _V6("fc00::/7")), "private"),
    ((_V4("169.254.0.0/16"), _V6("fe80::/10")), "link-local"),
    ((_V4("224.0.0.0/4"), _V6("ff00::/8")), "multicast"),
    ((_V4("100.64.0.0/10"),), "shared (CGNAT)"),
    ((_V4("240.0.0.0/4"), _V6("fec0::/10")), "reserved"),
)
# IPv6 forms that carry an IPv4 address a stack may end up connecting to.
_NAT64 = _V6("64:ff9b::/96")
_COMPAT = _V6("::/96")


class Refused(ValueError):
    """An outbound URL or address Leadvane will not reach; `reason` is short and ours, e.g. 'loopback address'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"refused: {self.reason}"


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed outbound URL: scheme, host as written (lower case, no brackets), port, and the host as an IP
    address when it is one in any spelling the system resolver would accept."""

    scheme: str
    host: str
    port: int
    literal: IPAddress | None


@dataclass(frozen=True, slots=True)
class AllowList:
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".intranet.example" allows every host under it
    networks: tuple[IPNetwork, ...] = ()

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(host.endswith(s) for s in self.suffixes)

    def allows_address(self, ip: IPAddress) -> bool:
        candidates = [ip, *embedded_ipv4(ip)]
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)


def parse_allow_list(text: str) -> AllowList:
    """'hooks.intranet, .corp.example, 10.1.0.0/16, 127.0.0.1/32, ::1' -> AllowList. Blank entries are skipped;
    an entry that is neither a network nor a host name raises ValueError naming it."""
    hosts: set[str] = set()
    suffixes: list[str] = []
    networks: list[IPNetwork] = []
    for raw in text.split(","):
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = entry.lstrip(".")
        if not name or any(c in name for c in "/:@ ") or parse_ip(name) is not None:
            raise ValueError(f"LEADVANE_OUTBOUND_ALLOW entry {raw.strip()!r} is neither a host name nor a network")
        if entry.startswith("."):
            suffixes.append("." + name)
        else:
            hosts.add(name)
    return AllowList(frozenset(hosts), tuple(suffixes), tuple(networks))


def _ipv4_part(text: str) -> int | None:
    """One part of an inet_aton address: decimal, octal (leading 0) or hex (0x)."""
    if not text:
        return None
    try:
        if text[:2] in ("0x", "0X"):
            return int(text[2:], 16) if text[2:] else 0
        if len(text) > 1 and text[0] == "0":
            return int(text[1:], 8)
        return int(text, 10) if text.isdigit() else None
    except ValueError:
        return None


def parse_loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """IPv4 in every spelling inet_aton (and so getaddrinfo) accepts: '2130706433', '0x7f.1', '017700000001',
    '127.1', '0177.0.0.01'. Returns None for anything that is not an IPv4 address."""
    parts = host.split(".")
    if host.endswith("."):
        parts = parts[:-1]  # resolvers accept one trailing dot
    if not 1 <= len(parts) <= 4:
        return None
    values = [_ipv4_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    nums = [v for v in values if v is not None]
    *head, last = nums
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for v in head:
        value = value * 256 + v
    value = value * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(value)


def parse_ip(host: str) -> IPAddress | None:
    """The host as an IP address (any IPv4 spelling, IPv6 with or without brackets and zone), else None."""
    bare = host.strip("[]")
    if ":" in bare:
        try:
            return ipaddress.IPv6Address(bare.split("%", 1)[0])
        except ValueError:
            return None
    return parse_loose_ipv4(bare)


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), 6to4, NAT64."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip in _NAT64 or (ip in _COMPAT and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def address_class(ip: IPAddress) -> str | None:
    """Why this address may not be reached ('loopback', 'private', ...), or None for a public address."""
    # An IPv6 wrapper of an IPv4 address is judged by the IPv4 address the packets end up at.
    candidates: list[IPAddress] = [*embedded_ipv4(ip)] or [ip]
    for candidate in candidates:
        for networks, name in _CLASSES:
            if any(candidate in net for net in networks if net.version == candidate.version):
                return name
        if not candidate.is_global:  # documentation, benchmarking, protocol assignments, ...
            return "reserved"
    return None


def check_address(ip: IPAddress, allow: AllowList) -> None:
    """Raise Refused unless the address is public or inside an allowed network."""
    kind = address_class(ip)
    if kind is not None and not allow.allows_address(ip):
        raise Refused(f"{kind} address")


def parse_target(url: str) -> Target:
    """Parse an outbound URL; refuses what is not http(s), has no host, or carries credentials."""
    if not isinstance(url, str) or not url.strip():
        raise Refused("empty URL")
    if any(ord(c) < 33 or c == "\\" for c in url):
        raise Refused("URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused("must be an http(s) URL")
    if "@" in parts.netloc:
        raise Refused("credentials in the URL")
    host = (parts.hostname or "").lower()
    if not host:
        raise Refused("URL has no host")
    return Target(scheme, host, port or (443 if scheme == "https" else 80), parse_ip(host))


def check_resolved(target: Target, addresses: Iterable[IPAddress], allow: AllowList) -> None:
    """Raise Refused if any address the host resolves to is refused (the connection may use any of them)."""
    if allow.allows_host(target.host):
        return
    found = list(addresses)
    if not found:
        raise Refused("host does not resolve")
    for ip in found:
        kind = address_class(ip)
        if kind is not None and not allow.allows_address(ip):
            raise Refused(f"{kind} address" if target.literal is not None else f"resolves to a {kind} address")
