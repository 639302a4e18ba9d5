"""An AlertManager stand-in that accepts alerts slowly, and counts what it was sent.

A real AlertManager cannot be told to take 1.5 s per POST; this one can. It answers
``POST /api/v2/alerts`` with 200 after ``delay`` seconds and records every POST and
every alert in it, so a test or the soak can compare what a sender meant to deliver
with what arrived (a sender that retries on its own timeout doubles the count).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SlowAlertmanager(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float = 1.5) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.posts = 0
        self.alerts: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self.serve_forever, name="slow-am", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> SlowAlertmanager:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SlowAlertmanager

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.server.delay)
        try:
            alerts = json.loads(body or b"[]")
        except ValueError:
            alerts = []
        with self.server.lock:
            self.server.posts += 1
            self.server.alerts.extend(a for a in alerts if isinstance(a, dict))
        self._answer(200, b"{}")

    def do_GET(self) -> None:
        self._answer(200, b"{}" if self.path.startswith("/api/") else b"OK")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass
