"""Small HTTP stand-ins for faults a real server cannot be made to show.

``ScriptedServer`` answers each request with what a test function returns: a
Prometheus that sends garbage or samples from the future, an AlertManager that
takes its time. Real Prometheus and AlertManager are used everywhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


Handler = Callable[[Request], Answer]


@dataclass
class ScriptedServer:
    url: str
    handler: Handler
    requests: list[Request] = field(default_factory=list)


@contextmanager
def scripted_server(handler: Handler) -> Iterator[ScriptedServer]:
    """A threading HTTP server on a free loopback port; ``server.handler`` may be swapped."""
    holder: list[ScriptedServer] = []
    lock = threading.Lock()

    class _Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            req = Request(self.command, self.path, dict(self.headers), self.rfile.read(length))
            with lock:
                holder[0].requests.append(req)
            answer = holder[0].handler(req)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    holder.append(ScriptedServer(f"http://127.0.0.1:{httpd.server_port}", handler))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
