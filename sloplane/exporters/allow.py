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
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from fnmatch import fnmatchcase

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
