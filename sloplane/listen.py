"""Listen addresses (``host:port``), parsed one way for every server sloplane runs.

The SLO API, the exporter and the detector service all take a listen address. They
share this parser so the same text means the same socket everywhere, and so a bare
``:port`` binds loopback: exposing a server to the network is always written out.
"""

from __future__ import annotations

#: Host used when the address gives only ``:port``: loopback, never every interface.
DEFAULT_HOST = "127.0.0.1"


def parse_listen(listen: str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` as ``(host, port)``.

    IPv6 addresses need their brackets, so ``::1:9465`` is refused rather than guessed
    at. ``:port`` listens on ``default_host`` (loopback); write ``0.0.0.0:port`` to
    listen on every IPv4 interface.
    """
    host, sep, port = listen.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address must be host:port, got {listen!r}")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"listen port must be a port from 1 to 65535 (1-65535), got {port}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not host:
            raise ValueError(f"no IPv6 address between the brackets in {listen!r}")
    elif ":" in host or "[" in host or "]" in host:
        raise ValueError(f"write an IPv6 listen address in brackets, [::1]:PORT, got {listen!r}")
    return host or default_host, int(port)


def format_listen(host: str, port: int) -> str:
    """The inverse of :func:`parse_listen`: brackets around IPv6 hosts."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
