"""The HTTP/1.1 the exporter answers: GET and HEAD, keep-alive, no request bodies.

Why not ``http.server``: importing it loads ``http.client``, ``ssl`` and the ``email``
package (8 MiB of the serving process under ``python -S``, docs/exporters.md "Memory"),
to parse what a scraper sends: one request line and a few headers. This handler reads
exactly that (RFC 9112), with limits: a request line or header line of at most 8 KiB, at
most 100 headers, a body (which no GET needs) of at most 64 KiB read and dropped, no
chunked bodies, 60 s of silence closes the connection. Anything else is answered with
the matching 4xx status and the connection is closed. ``socketserver`` provides the
threads; :mod:`.server` the routes. ``tests/exporters/test_http11.py`` sends it
malformed and split requests.
"""

from __future__ import annotations

import socketserver
from typing import Any

_MAX_LINE = 8192
_MAX_HEADERS = 100
_MAX_BODY = 64 * 1024

REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


class Headers(dict[str, str]):
    """Request headers by lower-cased name; ``get`` takes any case."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RequestHandler(socketserver.StreamRequestHandler):
    """One connection: requests in turn until the client closes, asks to, or misbehaves.

    Subclasses define ``do_GET`` (also used for HEAD, whose body is then left out) and
    answer with :meth:`send`; ``log_request`` is told each answered request.
    """

    timeout = 60  # a client that sends nothing is dropped, not kept forever
    disable_nagle_algorithm = True

    command = ""
    path = ""
    request_version = ""
    headers: Headers

    def handle(self) -> None:
        while True:
            try:
                keep_alive = self._one_request()
            except _Refused as exc:
                self.send(exc.status, f"{exc}\n".encode(), close=True)
                return
            except OSError:  # timeouts and resets: nothing to answer
                return
            if not keep_alive:
                return

    def do_GET(self) -> None:
        raise NotImplementedError

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        """The whole answer in one write (status line, headers, body)."""
        lines = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if close:
            lines.append("Connection: close")
            self._close = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + body)
        self.log_request(status, len(body))

    def log_request(self, status: int, size: int) -> None:
        """Told of every answer; silent unless overridden."""

    def _line(self) -> bytes:
        line: bytes = self.rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _Refused(431 if self.command else 414, "line too long")
        return line

    def _one_request(self) -> bool:
        self.command = ""
        self._close = False
        line = self._line()
        while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: ignore empty lines before a request
            line = self._line()
        if not line:
            return False
        parts = line.decode("latin-1").split()
        if len(parts) != 3:
            raise _Refused(400, "bad request line")
        method, self.path, self.request_version = parts
        if self.request_version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _Refused(505, "HTTP/1.0 and HTTP/1.1 only")
        self.command = method
        self.headers = Headers()
        for _ in range(_MAX_HEADERS + 1):
            header = self._line()
            if not header:
                return False  # closed within the headers
            if header in (b"\r\n", b"\n"):
                break
            name, colon, value = header.decode("latin-1").partition(":")
            if not colon or not name or name != name.strip():
                raise _Refused(400, "bad header line")
            self.headers[name.lower()] = value.strip()
        else:
            raise _Refused(431, f"more than {_MAX_HEADERS} headers")
        if "transfer-encoding" in self.headers:
            raise _Refused(501, "request bodies are not accepted")
        length = self.headers.get("content-length", "0")
        if not length.isdigit():
            raise _Refused(400, "bad Content-Length")
        if int(length) > _MAX_BODY:
            raise _Refused(413, "request bodies are not accepted")
        if int(length):
            self.rfile.read(int(length))
        connection = self.headers.get("connection", "").lower()
        keep_alive = (
            connection != "close"
            if self.request_version == "HTTP/1.1"
            else connection == "keep-alive"
        )
        if method not in ("GET", "HEAD"):
            self.send(
                405, b"GET and HEAD only\n", headers={"Allow": "GET, HEAD"}, close=not keep_alive
            )
        else:
            if not keep_alive:
                self._close = True
            self.do_GET()
        return keep_alive and not self._close
