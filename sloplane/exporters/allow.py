"""Which addresses a module's credentials may be sent to: the ``allowed_targets`` patterns.

``/probe?module=&target=`` lets whoever can reach the exporter name the address. For a
module without credentials that is the blackbox pattern and harmless; for one with a
password, a basic-auth login or a token, it would hand the secret to any server the caller
runs. Such a module only probes addresses its ``allowed_targets`` list matches.

A pattern is a host part, optionally with ``:port`` (``[v6]:port`` for IPv6): the host
part is a CIDR (``10.0.0.0/8``, ``::1/128``, or a plain IP), matched against IP literal
targets only (names are not resolved: DNS could answer differently at connect time), or a
case-insensitive glob on the host name (``*.db.internal``, ``db?``). Without a port, any
port matches.

Whatever the list says, ``/probe`` refuses loopback, link-local and unspecified
addresses (``127.0.0.0/8``, ``::1``, ``169.254.0.0/16`` with the cloud metadata
service, ``fe80::/10``, ``0.0.0.0``, and IPv4-mapped forms of these): they reach
services that trust the exporter's own host. Only an entry that names such an address
exactly allows it: a CIDR inside those ranges (``127.0.0.1``, ``127.0.0.0/8``) or a host
name without wildcards (``localhost``); ``0.0.0.0/0`` or ``*`` never does. A host name
is checked by what it resolves to when the probe is asked for.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TargetPattern:
    text: str
    network: Network | None
    glob: str | None
    port: int | None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.network is not None:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                return False
            return ip.version == self.network.version and ip in self.network
        assert self.glob is not None
        return fnmatchcase(host.lower().rstrip("."), self.glob)


def parse_pattern(text: str) -> TargetPattern:
    """Parse one ``allowed_targets`` entry; ValueError says what is wrong with it."""
    entry = text.strip()
    if not entry:
        raise ValueError("empty allowed_targets entry")
    host, port = _split_port(entry)
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535 in allowed_targets entry {text!r}")
    try:
        network: Network | None = ipaddress.ip_network(host, strict=False)
    except ValueError:
        network = None
    if network is None:
        if "/" in host or ":" in host or not host or any(c.isspace() for c in host):
            raise ValueError(f"not a host glob, IP or CIDR: {text!r}")
        return TargetPattern(text, None, host.lower().rstrip("."), port)
    return TargetPattern(text, network, None, port)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, sep, rest = entry[1:].partition("]")
        if not sep:
            raise ValueError(f"unclosed '[' in allowed_targets entry {entry!r}")
        if not rest:
            return host, None
        if not rest.startswith(":") or not rest[1:].isdigit():
            raise ValueError(f"expected [IPv6]:PORT, got {entry!r}")
        return host, int(rest[1:])
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if not port.isdigit():
            raise ValueError(f"expected HOST:PORT, got {entry!r}")
        return host, int(port)
    return entry, None  # no port, or a bare IPv6 address / network


def allowed(patterns: list[str], host: str, port: int) -> bool:
    """Whether ``host:port`` matches one of ``patterns`` (validated at config load)."""
    return any(parse_pattern(p).matches(host, port) for p in patterns)


def special_kind(ip: IP) -> str | None:
    """``loopback``, ``link-local`` or ``unspecified`` for the addresses /probe refuses."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:  # 0.0.0.0 and :: reach this host's own services
        return "unspecified"
    return None


def names_exactly(pattern: TargetPattern) -> bool:
    """Whether ``pattern`` names a refused-by-default address on purpose, not by a wide net."""
    if pattern.network is not None:
        first, last = pattern.network.network_address, pattern.network.broadcast_address
        return special_kind(first) is not None and special_kind(first) == special_kind(last)
    assert pattern.glob is not None
    return not any(c in pattern.glob for c in "*?[")


def special_refusal(
    patterns: list[str] | None, host: str, port: int, ips: Sequence[IP]
) -> str | None:
    """Why ``host:port`` (at ``ips``) is refused as a loopback or link-local target, or None."""
    for ip in ips:
        kind = special_kind(ip)
        if kind is None:
            continue
        explicit = [p for p in map(parse_pattern, patterns or []) if names_exactly(p)]
        if any(p.matches(host, port) or p.matches(str(ip), port) for p in explicit):
            continue
        shown = host if str(ip) == host else f"{host} (resolves to {ip})"
        return (
            f"{shown} is a {kind} address; /probe refuses loopback and link-local targets"
            " unless the module's allowed_targets names them exactly"
        )
    return None


def ip_of(host: str) -> IP | None:
    """``host`` as an IP address when it is a literal, else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, port: int, timeout: float) -> list[IP]:
    """The addresses ``host`` resolves to, within ``timeout``; [] when it does not resolve.

    getaddrinfo has no timeout of its own: it runs in a daemon thread that is left behind
    if the resolver hangs, so the caller's deadline holds.
    """
    literal = ip_of(host)
    if literal is not None:
        return [literal]
    found: list[IP] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return
        for info in infos:
            ip = ip_of(str(info[4][0]))
            if ip is not None:
                found.append(ip)

    worker = threading.Thread(target=lookup, name="sloplane-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    return [] if worker.is_alive() else found
