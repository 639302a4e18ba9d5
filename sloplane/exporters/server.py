"""The HTTP front of the exporter: ``/metrics``, ``/probe``, ``/-/healthy`` and a landing page.

A threading server, so a slow target never blocks other scrapes; the targets
themselves make sure concurrent scrapes share one collection. Responses are
negotiated like prometheus_client's own (OpenMetrics when asked, gzip when
accepted; :mod:`.exposition`). The HTTP/1.1 itself is :mod:`.http11`'s.
"""

from __future__ import annotations

import gzip
import logging
import math
import socket
import socketserver
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sloplane.exporters.exporter import Exporter, ProbeBusy, ProbeForbidden, ProbeRequestError
from sloplane.exporters.exposition import choose_renderer
from sloplane.exporters.http11 import RequestHandler
from sloplane.exporters.settings import shown_address

__all__ = ["ExporterServer"]

log = logging.getLogger("sloplane.exporters")

_LANDING = b"""<html><head><title>sloplane exporter</title></head><body>
<h1>sloplane exporter</h1>
<p><a href="/metrics">/metrics</a>: configured targets and the exporter itself.</p>
<p>/probe?module=NAME&amp;target=ADDRESS: one target, multi-target pattern.</p>
</body></html>
"""


#: Subtracted from the scraper's timeout header, so the answer leaves before it gives up.
SCRAPE_TIMEOUT_OFFSET = 0.5


class ExporterServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of scrapers (50 at once
    # lost 11 of 2,077 requests); the kernel caps this at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], exporter: Exporter) -> None:
        self.exporter = exporter
        if ":" in address[0]:
            # socketserver binds AF_INET unless told; an IPv6 literal needs AF_INET6.
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    @classmethod
    def on_socket(cls, sock: socket.socket, exporter: Exporter) -> ExporterServer:
        """A server on a socket already bound and listening (handed over by :mod:`.serve`)."""
        server = cls.__new__(cls)
        server.exporter = exporter
        server.address_family = sock.family
        socketserver.ThreadingTCPServer.__init__(
            server, sock.getsockname()[:2], _Handler, bind_and_activate=False
        )
        server.socket.close()
        server.socket = sock
        server.server_address = sock.getsockname()
        return server

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="sloplane-exporter", daemon=True)
        thread.start()
        return thread


class _Handler(RequestHandler):
    server: ExporterServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        exporter = self.server.exporter
        if url.path == "/metrics":
            self._exposition(exporter.metrics(self._deadline()))
        elif url.path == "/probe":
            params = parse_qs(url.query)
            module = params.get("module", [""])[0]
            target = params.get("target", [""])[0]
            if not module or not target:
                self._send(400, b"module and target parameters are required\n")
                return
            try:
                registry = exporter.probe(module, target, self._deadline())
            except ProbeBusy as exc:
                self._send(503, f"{exc}\n".encode())
                return
            except ProbeRequestError as exc:
                self._send(400, f"{exc}\n".encode())
                return
            except ProbeForbidden as exc:
                _log_refusal(module, str(exc))
                self._send(403, f"{exc}\n".encode())
                return
            self._exposition(registry)
        elif url.path in ("/-/healthy", "/-/ready"):
            self._send(200, b"OK\n")
        elif url.path == "/":
            self._send(200, _LANDING, "text/html; charset=utf-8")
        else:
            self._send(404, b"not found\n")

    def _deadline(self) -> float | None:
        """When the scraper gives up, from Prometheus' ``X-Prometheus-Scrape-Timeout-Seconds``."""
        header = self.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        try:
            seconds = float(header) if header else math.nan
        except ValueError:
            return None
        if not math.isfinite(seconds) or seconds <= 0:
            return None
        return time.monotonic() + max(seconds - SCRAPE_TIMEOUT_OFFSET, seconds / 2)

    def _exposition(self, registry: Any) -> None:
        render, content_type = choose_renderer(self.headers.get("Accept") or "")
        body = render(registry.collect())
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            self._send(200, gzip.compress(body, compresslevel=1), content_type, gzipped=True)
        else:
            self._send(200, body, content_type)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        gzipped: bool = False,
    ) -> None:
        self.send(
            status, body, content_type, headers={"Content-Encoding": "gzip"} if gzipped else None
        )

    def log_request(self, status: int, size: int) -> None:
        # A /probe target may carry a query string with a secret in it: keep it out of logs.
        path = _loggable(self.path) if "?" in self.path else self.path
        log.debug(
            '%s "%s %s %s" %d %d',
            self.client_address[0],
            self.command,
            path,
            self.request_version,
            status,
            size,
        )


_refusals_logged: set[str] = set()
_refusals_lock = threading.Lock()
_REFUSALS_REMEMBERED = 1_000


def _log_refusal(module: str, reason: str) -> None:
    """A refused /probe: WARNING the first time each refusal is seen, DEBUG after that.

    Refusals are what a hostile caller produces by the thousand; one line each would
    let them flood the log. The memory of what was logged is bounded.
    """
    line = f"refused /probe?module={module}: {reason}"
    with _refusals_lock:
        first = line not in _refusals_logged
        if first and len(_refusals_logged) < _REFUSALS_REMEMBERED:
            _refusals_logged.add(line)
    log.log(logging.WARNING if first else logging.DEBUG, "%s", line)


def _loggable(path: str) -> str:
    """A request path for the access log: module and target kept, the target's query redacted."""
    url = urlsplit(path)
    params = parse_qs(url.query)
    if url.path != "/probe":
        return url.path + "?<redacted>"
    module = params.get("module", [""])[0]
    target = params.get("target", [""])[0]
    return f"{url.path}?module={module}&target={shown_address(target)}"
