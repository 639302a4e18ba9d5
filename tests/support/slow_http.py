"""A hostile HTTP server for tests and benchmarks: it answers, but a byte at a time.

No real server can be told to dribble its answer, so this stand-in does it on
purpose: every connection gets its bytes one at a time, ``interval`` seconds
apart, in one of three places:

- ``body``: headers at once, then a long body byte by byte;
- ``headers``: the status line and (long) headers byte by byte;
- ``silent``: accept the connection and never send anything;
- ``tls``: answer a TLS ClientHello with the header of a 16 kB handshake record, then
  its content byte by byte (for ``https://`` URLs: the handshake never completes).

Each gap is shorter than any socket timeout, so only a deadline over the whole
exchange stops a client. Connections are closed when the server stops.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal

Mode = Literal["body", "headers", "silent", "tls"]

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"


class SlowHTTPServer:
    """Serve every request slowly on 127.0.0.1; ``url`` is where to find it."""

    def __init__(self, mode: Mode = "body", interval: float = 0.1, body_bytes: int = 100_000):
        self.mode = mode
        self.interval = interval
        self.body_bytes = body_bytes
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, name="slow-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> SlowHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            conn.recv(65536)  # the request; its content does not matter
            head = _HEAD % self.body_bytes
            if self.mode == "silent":
                self._stop.wait()
            elif self.mode == "tls":
                conn.sendall(b"\x16\x03\x03\x40\x00")  # handshake record, 16,384 bytes
                self._dribble(conn, b"\x00" * 16_384)
            elif self.mode == "headers":
                # A long header line, so the headers alone outlast any deadline.
                self._dribble(conn, head[:-2] + b"X-Padding: " + b"p" * 60_000 + b"\r\n\r\n")
            else:
                conn.sendall(head)
                self._dribble(conn, b"x" * self.body_bytes)
        except OSError:
            pass
        finally:
            conn.close()

    def _dribble(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self._stop.wait(self.interval):
                return
            conn.sendall(data[i : i + 1])


@contextmanager
def slow_http(mode: Mode = "body", interval: float = 0.1) -> Iterator[SlowHTTPServer]:
    """A running :class:`SlowHTTPServer`, stopped on exit."""
    server = SlowHTTPServer(mode, interval).start()
    try:
        yield server
    finally:
        server.stop()
