"""The ASGI middleware on a real FastAPI app, tracing included (OTLP to a local receiver)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sloplane.exporters.asgi import (
    SLO_BUCKETS,
    UNMATCHED_ROUTE,
    PrometheusMiddleware,
    add_metrics_route,
    setup_tracing,
)
from sloplane.exporters.metrics_catalog import KNOWN_METRICS
from tests.exporters.conftest import assert_promtool_clean, names, parse, value


def build_app(registry: CollectorRegistry, provider: TracerProvider | None) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async def sub(request: object) -> PlainTextResponse:
        return PlainTextResponse("sub")

    app.mount("/admin", Starlette(routes=[Route("/users/{name}", sub)]))
    app.add_middleware(PrometheusMiddleware, registry=registry, tracer_provider=provider)
    add_metrics_route(app, registry=registry)
    return app


@pytest.fixture
def spans() -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def _requests(
    app: FastAPI, paths: list[str], headers: dict[str, str] | None = None
) -> list[int]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return [(await client.get(p, headers=headers)).status_code for p in paths]


def run(coro):
    import asyncio

    return asyncio.run(coro)


@pytest.mark.integration
def test_requests_are_counted_by_route_template(spans) -> None:
    registry = CollectorRegistry()
    app = build_app(registry, spans[0])
    statuses = run(
        _requests(app, ["/items/1", "/items/2", "/boom", "/nowhere", "/admin/users/bob"])
    )
    assert statuses == [200, 200, 500, 404, 200]
    text = run(_metrics_text(app))
    assert_promtool_clean(text)
    samples = parse(text)
    assert (
        value(samples, "http_requests_total", method="GET", route="/items/{item_id}", code="200")
        == 2
    )
    assert value(samples, "http_requests_total", route="/boom", code="500") == 1
    assert value(samples, "http_requests_total", route=UNMATCHED_ROUTE, code="404") == 1
    assert value(samples, "http_requests_total", route="/admin/users/{name}", code="200") == 1
    assert value(samples, "http_request_duration_seconds_count", route="/items/{item_id}") == 2
    assert (
        value(samples, "http_request_duration_seconds_bucket", route="/items/{item_id}", le="0.3")
        == 2
    )
    assert value(samples, "http_requests_in_progress", method="GET") == 0
    # promhttp's name for the status label, which every example SLO and doc queries.
    assert not any("status" in dict(labels) for _, labels in samples)
    assert not any(dict(labels).get("route") == "/metrics" for _, labels in samples)
    ours = {n for n in names(samples) if n.startswith("http_") and not n.endswith("_created")}
    assert ours == set(KNOWN_METRICS["asgi"])
    assert len(SLO_BUCKETS) == len(set(SLO_BUCKETS))


async def _metrics_text(app: FastAPI, accept: str = "") -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.get("/metrics", headers={"Accept": accept} if accept else {})).text


def test_spans_continue_incoming_traces_and_exemplars_carry_the_trace_id(spans) -> None:
    provider, exporter = spans
    registry = CollectorRegistry()
    app = build_app(registry, provider)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    run(_requests(app, ["/items/7"], headers={"traceparent": traceparent}))
    [span] = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.name == "GET /items/{item_id}"
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["http.response.status_code"] == 200
    text = run(_metrics_text(app, accept="application/openmetrics-text; version=1.0.0"))
    assert f'# {{trace_id="{trace_id}"}}' in text


def test_without_tracing_there_are_no_exemplars() -> None:
    registry = CollectorRegistry()
    app = build_app(
        registry,
        TracerProvider(
            sampler=__import__(
                "opentelemetry.sdk.trace.sampling", fromlist=["ALWAYS_OFF"]
            ).ALWAYS_OFF
        ),
    )
    run(_requests(app, ["/items/1"]))
    text = run(_metrics_text(app, accept="application/openmetrics-text; version=1.0.0"))
    assert "trace_id" not in text


class _OtlpReceiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, int]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _OtlpReceiver.received.append((self.path, self.headers.get("Content-Type", ""), len(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_setup_tracing_exports_spans_over_otlp(otlp_receiver: str) -> None:
    _OtlpReceiver.received.clear()
    provider = setup_tracing("sloplane-test", otlp_endpoint=otlp_receiver, set_global=False)
    registry = CollectorRegistry()
    app = build_app(registry, provider)
    run(_requests(app, ["/items/3"]))
    assert provider.force_flush(10_000)
    provider.shutdown()
    assert _OtlpReceiver.received, "no OTLP request arrived"
    path, content_type, size = _OtlpReceiver.received[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert size > 0
    assert provider.resource.attributes["service.name"] == "sloplane-test"


def test_one_registry_shared_by_two_apps() -> None:
    registry = CollectorRegistry()
    PrometheusMiddleware(FastAPI(), registry=registry)
    PrometheusMiddleware(FastAPI(), registry=registry)  # no duplicate registration error
    with pytest.raises(ValueError):
        PrometheusMiddleware(FastAPI(), registry=registry, buckets=(1.0, 2.0))
