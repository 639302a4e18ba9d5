"""A local stand-in for a Prometheus that answers whatever a test tells it to.

A real Prometheus never answers ``[1,2,3]`` or a sample value ``"abc"``; a proxy, a
half-compatible backend or a broken deployment can. The stand-in serves one fixed
answer (status, body) to every request on a free loopback port, in a thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    """What the stand-in says next; tests change it between requests."""

    status: int = 200
    body: bytes = b""
    paths: list[str] = field(default_factory=list)
    # a different body for some paths (e.g. "/api/v1/query_range"), ``body`` for the rest
    by_path: dict[str, bytes] = field(default_factory=dict)
    # run in the request's thread before answering (a test holds or counts requests here)
    on_request: Callable[[], None] | None = None


@contextlib.contextmanager
def garbage_prometheus(answer: Answer) -> Iterator[str]:
    """Serve ``answer`` to every GET; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer.paths.append(self.path)
            if answer.on_request is not None:
                answer.on_request()
            body = answer.by_path.get(self.path.split("?")[0], answer.body)
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
