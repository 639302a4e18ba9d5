"""A small Redis client for the exporter: one connection, pipelined commands, RESP2 replies.

Why not redis-py: importing it costs the serving process 11 MiB (its package loads the
asyncio client, cluster support, every command mixin and, when installed, OpenTelemetry),
more than half of what the Go redis_exporter uses in all; the exporter sends four commands
(``AUTH``, ``CLIENT SETNAME``, ``INFO ALL``, ``SLOWLOG LEN``, and on a Sentinel
``SENTINEL MASTERS/REPLICAS/SENTINELS/CKQUORUM``). RESP2 is the protocol every Redis and
Sentinel speaks (https://redis.io/docs/latest/develop/reference/protocol-spec/). Replies
are parsed the way redis-py parses ``INFO`` and the Sentinel tables, so the collector reads
the same dictionaries. ``tests/exporters/test_resp.py`` checks the parser on arbitrary input;
the collector tests run it against real servers.
"""

from __future__ import annotations

import socket
from typing import Any, TypeAlias

__all__ = [
    "RedisAuthError",
    "RedisConnection",
    "RedisError",
    "ResponseError",
    "parse_info",
    "parse_sentinel_table",
]

#: The longest reply line (a bulk or array header, a status or an error) accepted.
_MAX_LINE = 64 * 1024
#: The largest bulk string accepted (INFO ALL of a busy server is tens of KiB).
_MAX_BULK = 64 * 1024 * 1024


class RedisError(Exception):
    """The server broke the protocol, or said no."""


class ResponseError(RedisError):
    """An error reply (``-ERR ...``), returned in its place within a pipeline."""


class RedisAuthError(ResponseError):
    """``AUTH`` was refused, or a command needs it (NOAUTH, WRONGPASS, NOPERM)."""


#: A decoded reply: status and bulk strings as bytes, errors as ResponseError, nil as None.
Reply: TypeAlias = "bytes | int | list[Reply] | ResponseError | None"


def _encode(args: tuple[str | bytes | int, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RedisConnection:
    """One connection to a Redis server or Sentinel; not thread-safe (a target scrapes alone).

    Socket errors and timeouts are raised as they are (OSError, TimeoutError); the caller
    closes the connection then, and the next call reconnects.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        client_name: str | None = None,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.tls = username, password, tls
        self.client_name = client_name
        self._sock: socket.socket | None = None
        self._file: Any = None

    def pipeline(self, *commands: tuple[str | bytes | int, ...]) -> list[Reply]:
        """Send ``commands`` in one write and read their replies; error replies are returned
        as :class:`ResponseError` in their place, except authentication errors, raised."""
        self._connect()
        assert self._sock is not None
        self._sock.sendall(b"".join(_encode(c) for c in commands))
        replies = [self._read() for _ in commands]
        for reply in replies:
            if isinstance(reply, RedisAuthError):
                raise reply
        return replies

    def execute(self, *args: str | bytes | int) -> Reply:
        """One command; an error reply is raised."""
        (reply,) = self.pipeline(args)
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if self._file is not None:
            self._file.close()
            self._file = None
        if sock is not None:
            sock.close()

    def _connect(self) -> None:
        if self._sock is not None:
            return
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:
                import ssl  # only TLS targets pay for it

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            self._sock, self._file = sock, sock.makefile("rb")
            hello: list[tuple[str | bytes | int, ...]] = []
            if self.password is not None:
                user = (self.username,) if self.username else ()
                hello.append(("AUTH", *user, self.password))
            if self.client_name:
                hello.append(("CLIENT", "SETNAME", self.client_name))
            for reply in self.pipeline(*hello) if hello else []:
                if isinstance(reply, ResponseError):
                    raise reply
        except BaseException:
            self.close()
            sock.close()
            raise

    def _read(self) -> Reply:
        line = self._file.readline(_MAX_LINE)
        if not line.endswith(b"\r\n"):
            raise ConnectionError(
                "connection closed by the server" if not line else "reply line too long"
            )
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            message = rest.decode(errors="replace")
            if message.startswith(
                ("NOAUTH", "WRONGPASS", "NOPERM", "ERR AUTH", "ERR invalid password")
            ):
                return RedisAuthError(message)
            return ResponseError(message)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            if size > _MAX_BULK:
                raise RedisError(f"bulk reply of {size} bytes is over {_MAX_BULK}")
            data = self._file.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError("connection closed by the server")
            return bytes(data[:-2])
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise RedisError(f"not a RESP2 reply: {line[:40]!r}")


def _info_value(value: str) -> Any:
    if "," not in value and "=" not in value:
        for number in (int, float):
            try:
                return number(value)
            except ValueError:
                pass
        return value
    parts: dict[str, Any] = {}
    for item in value.split(","):
        if "=" in item:
            key, _, sub = item.rpartition("=")
            parts[key] = _info_value(sub)
    return parts


def parse_info(text: bytes) -> dict[str, Any]:
    """``INFO`` as redis-py gives it: numbers as numbers, ``k=v,k=v`` values (cmdstat_*, db*,
    slave*, latency percentiles) as dictionaries."""
    info: dict[str, Any] = {}
    for raw in text.decode(errors="replace").splitlines():
        if not raw or raw.startswith("#") or ":" not in raw:
            continue
        key, _, value = raw.partition(":")
        info[key] = _info_value(value)
    return info


_FLAGS = (
    ("is_master", "master"),
    ("is_slave", "slave"),
    ("is_sdown", "s_down"),
    ("is_odown", "o_down"),
    ("is_sentinel", "sentinel"),
    ("is_disconnected", "disconnected"),
    ("is_master_down", "master_down"),
)


def parse_sentinel_table(reply: Reply) -> list[dict[str, Any]]:
    """``SENTINEL MASTERS/REPLICAS/SENTINELS``: one dictionary per row, numbers as numbers,
    and the ``flags`` field as the ``is_*`` booleans redis-py adds."""
    if not isinstance(reply, list):
        raise RedisError("SENTINEL reply is not a list")
    rows = []
    for row in reply:
        if not isinstance(row, list):
            raise RedisError("SENTINEL reply row is not a list")
        words = [w.decode(errors="replace") if isinstance(w, bytes) else str(w) for w in row]
        fields: dict[str, Any] = {
            k: _info_value(v) if k != "flags" else v
            for k, v in zip(words[::2], words[1::2], strict=False)
        }
        flags = set(str(fields.get("flags", "")).split(","))
        for name, flag in _FLAGS:
            fields[name] = flag in flags
        rows.append(fields)
    return rows
