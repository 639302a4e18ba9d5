"""Fixtures for the detector tests: a metric the test controls, scraped by a real Prometheus."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.support.processes import free_port


@dataclass
class ControlledMetric:
    gauge: Gauge
    port: int

    def set(self, value: float) -> None:
        self.gauge.set(value)


@contextlib.contextmanager
def controlled_metric(name: str = "test_latency_seconds") -> Iterator[ControlledMetric]:
    """An HTTP /metrics endpoint serving one gauge whose value the test sets."""
    registry = CollectorRegistry()
    gauge = Gauge(name, "A metric the test controls.", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield ControlledMetric(gauge, port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
