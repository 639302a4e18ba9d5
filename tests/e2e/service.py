"""A small instrumented service whose error ratio the test sets.

It "handles" a steady stream of requests in a background thread and counts them
in ``http_requests_total{code}``, exposed on ``/metrics`` on a free loopback port.
Errors are spread exactly: an accumulator carries the fractional error count.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from prometheus_client import CollectorRegistry, Counter, start_http_server

from tests.support.processes import free_port


class ShopService:
    def __init__(self, requests_per_second: float = 100.0) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "Requests handled, by status code.", ["code"], registry=self.registry
        )
        self.requests.labels(code="200").inc(0)
        self.requests.labels(code="500").inc(0)
        self.rate = requests_per_second
        self.error_ratio = 0.0
        self.port = free_port()
        self._stop = threading.Event()
        self._carry = 0.0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve_traffic(self) -> None:
        tick = 0.05
        while not self._stop.wait(tick):
            batch = self.rate * tick
            errors = batch * self.error_ratio + self._carry
            whole = int(errors)
            self._carry = errors - whole
            self.requests.labels(code="500").inc(whole)
            self.requests.labels(code="200").inc(batch - whole)

    def __enter__(self) -> ShopService:
        self._server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self._thread = threading.Thread(target=self._serve_traffic, daemon=True)
        self._thread.start()
        time.sleep(0.1)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()
