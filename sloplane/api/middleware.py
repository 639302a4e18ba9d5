"""ASGI middleware of the SLO API: request size limits, the response cache, request metrics.

Pure ASGI classes (no per-request task overhead), installed by :func:`install`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from sloplane.api.cache import ResponseCache
from sloplane.api.errors import problem

MAX_URI = 8192


class BodyTooLarge(StarletteHTTPException):
    """Raised by the counting ``receive``: whoever reads the body gets a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"requests are limited to {limit} body bytes")


class BodyLimit:
    """Rejects oversized requests before routing.

    ``Content-Length`` is checked up front; a chunked body has none, so the bytes are
    also counted as they arrive and reading stops with a 413 once the limit is passed.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        too_big = length is not None and (not length.isdigit() or int(length) > self.limit)
        uri_len = len(scope.get("path", "")) + len(scope.get("query_string", b""))
        if too_big or uri_len > MAX_URI:
            status, title = (413, "Request too large") if too_big else (414, "URI too long")
            response = problem(
                status,
                title,
                f"requests are limited to {self.limit} body bytes and {MAX_URI} URI characters",
            )
            await response(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:  # read outside a route (e.g. by a middleware)
            if started:
                raise
            await problem(413, "Request too large", str(exc.detail))(scope, receive, send)


def install(app: FastAPI, cache_ttl: float, max_body_bytes: int) -> None:
    """The response cache innermost, then the body limit, then metrics (outermost)."""
    app.add_middleware(ResponseCache, ttl=cache_ttl)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    _install_metrics(app)


def _install_metrics(app: FastAPI) -> None:
    """/metrics with the exporters' ASGI middleware (route-templated request metrics)."""
    try:
        from sloplane.exporters.asgi import PrometheusMiddleware, add_metrics_route
    except ImportError:  # pragma: no cover - the exporters package ships with sloplane
        from prometheus_client import make_asgi_app

        app.mount("/metrics", make_asgi_app())
        return
    app.add_middleware(PrometheusMiddleware)
    add_metrics_route(app)
