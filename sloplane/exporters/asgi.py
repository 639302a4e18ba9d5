"""SLO-ready instrumentation for ASGI apps (FastAPI, Starlette).

Public API, all a service needs::

    from sloplane.exporters.asgi import PrometheusMiddleware, add_metrics_route, setup_tracing

    setup_tracing("checkout", otlp_endpoint="http://127.0.0.1:4318")  # optional
    app = FastAPI()
    app.add_middleware(PrometheusMiddleware)
    add_metrics_route(app)  # GET /metrics

The middleware records ``http_requests_total{method,route,code}``,
``http_request_duration_seconds{method,route}`` (buckets at the usual SLO
thresholds, so "requests under 300 ms" is one bucket, no interpolation) and
``http_requests_in_progress{method}``. ``route`` is the route template
(``/items/{item_id}``), never the raw path, so cardinality stays bounded;
requests that match no route count as ``<unmatched>``. When tracing is set up
each request gets a server span (continuing an incoming ``traceparent``) and
its duration observation carries the trace id as an exemplar, visible in the
OpenMetrics exposition that Prometheus asks for when exemplar storage is on.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Latency buckets (seconds) at the thresholds SLOs are usually written against.
SLO_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
)
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class _Metrics:
    requests: Counter
    duration: Histogram
    in_progress: Gauge


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, dict[tuple[float, ...], _Metrics]] = (
    weakref.WeakKeyDictionary()
)


def _metrics(registry: CollectorRegistry, buckets: tuple[float, ...]) -> _Metrics:
    """One set of metrics per registry, however many apps or middleware instances share it."""
    per_registry = _by_registry.setdefault(registry, {})
    if per_registry:
        existing = next(iter(per_registry.values()))
        if buckets not in per_registry:
            raise ValueError("this registry already has http_request_duration_seconds buckets")
        return existing
    metrics = _Metrics(
        Counter(
            "http_requests",
            "HTTP requests handled, by method, route template and status code.",
            ["method", "route", "code"],
            registry=registry,
        ),
        Histogram(
            "http_request_duration_seconds",
            "Time from request start to the end of the response body, by method and route.",
            ["method", "route"],
            buckets=buckets,
            registry=registry,
        ),
        Gauge(
            "http_requests_in_progress",
            "Requests being handled now.",
            ["method"],
            registry=registry,
        ),
    )
    per_registry[buckets] = metrics
    return metrics


class PrometheusMiddleware:
    """ASGI middleware recording request count, latency and in-flight requests, with tracing.

    ``registry``: where the metrics go (the default global registry unless given).
    ``buckets``: latency buckets in seconds. ``exclude_paths``: paths not measured
    (``/metrics`` itself by default). ``tracer_provider``: the provider for server
    spans; the global one when omitted (a no-op until :func:`setup_tracing` runs).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry = REGISTRY,
        buckets: Sequence[float] = SLO_BUCKETS,
        exclude_paths: Sequence[str] = ("/metrics",),
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.app = app
        self._metrics = _metrics(registry, tuple(buckets))
        self._exclude = frozenset(exclude_paths)
        self._tracer = trace.get_tracer("sloplane.exporters.asgi", tracer_provider=tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self._exclude:
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET")).upper()
        method = method if method in _METHODS else "other"
        root_path = scope.get("root_path", "")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        span = self._tracer.start_span(
            method,
            context=propagate.extract(headers),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": str(scope.get("path", ""))},
        )
        status = 500
        metrics = self._metrics
        metrics.in_progress.labels(method).inc()
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            with trace.use_span(span, end_on_exit=False):
                await self.app(scope, receive, send_wrapper)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope, root_path)
            metrics.in_progress.labels(method).dec()
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.duration.labels(method, route).observe(duration, exemplar=_exemplar(span))
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()


def route_template(scope: Scope, original_root_path: str = "") -> str:
    """The matched route's template, prefixed by any mount it went through."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    mount_prefix = str(scope.get("root_path", ""))[len(original_root_path) :]
    return (mount_prefix + path) or "/"


def _exemplar(span: trace.Span) -> dict[str, str] | None:
    context = span.get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return {"trace_id": format(context.trace_id, "032x")}


class _MetricsApp:
    """A class, not a function, so Starlette's Route treats it as a raw ASGI app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        encoder, content_type = choose_encoder(headers.get("accept", ""))
        body = encoder(self.registry)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def metrics_endpoint(registry: CollectorRegistry = REGISTRY) -> ASGIApp:
    """An ASGI app serving ``registry`` (text format, or OpenMetrics with exemplars on request)."""
    return _MetricsApp(registry)


def add_metrics_route(
    app: Any, path: str = "/metrics", registry: CollectorRegistry = REGISTRY
) -> None:
    """Serve ``registry`` at ``GET path`` on a Starlette or FastAPI app (kept out of OpenAPI)."""
    from starlette.routing import Route

    endpoint = metrics_endpoint(registry)
    app.router.routes.append(Route(path, endpoint, methods=["GET"], include_in_schema=False))


def setup_tracing(
    service_name: str,
    otlp_endpoint: str | None = None,
    *,
    sample_ratio: float = 1.0,
    set_global: bool = True,
) -> TracerProvider:
    """Create the OpenTelemetry SDK tracer provider for this service.

    Spans go to the OTLP/HTTP collector at ``otlp_endpoint`` (``http://host:4318``;
    ``/v1/traces`` is added when no path is given), or to the one named by the
    standard ``OTEL_EXPORTER_OTLP_*ENDPOINT`` variables; with neither, spans are
    still created (so exemplars carry trace ids) but not exported. Call it once
    at startup: OpenTelemetry lets the global provider be set only once.
    """
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    env_endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if otlp_endpoint or env_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=_traces_url(otlp_endpoint) if otlp_endpoint else None)
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if set_global:
        trace.set_tracer_provider(provider)
    return provider


def _traces_url(endpoint: str) -> str:
    from urllib.parse import urlsplit

    if urlsplit(endpoint).path.strip("/"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"
