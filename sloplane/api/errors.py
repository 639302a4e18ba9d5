"""Every error the API answers is an RFC 9457 problem document (``application/problem+json``).

The handlers turn each kind of failure into one: a backend that is down or answered
garbage (503, or 502 when it refused our query), an invalid request (422 with the
offending ``field``), an HTTP error (401, 403, 404 ...) and anything unexpected (500,
logged, never a traceback in the answer).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sloplane.api.schemas import ProblemDetails
from sloplane.clients.prometheus import PrometheusError

log = logging.getLogger("sloplane.api")

PROBLEM = {"model": ProblemDetails, "content": {"application/problem+json": {}}}
READ_ERRORS: dict[int | str, dict[str, Any]] = {401: PROBLEM, 403: PROBLEM, 422: PROBLEM}
BACKEND_ERRORS: dict[int | str, dict[str, Any]] = {**READ_ERRORS, 502: PROBLEM, 503: PROBLEM}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: PROBLEM}

TITLES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
}
LOC_PREFIXES = ("body", "query", "path", "header", "cookie")


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = ProblemDetails(title=title, status=status, detail=detail, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def invalid(where: str, field: str, msg: str) -> RequestValidationError:
    """A 422 for a parameter FastAPI could parse but we refuse (e.g. ``end`` before ``start``)."""
    return RequestValidationError([{"loc": (where, field), "msg": msg, "type": "value_error"}])


def problem_field(error: Any) -> str | None:
    """The offending input as a dotted path after the body/query/path prefix (``scopes.0``);
    ``body`` for a body that is missing or is not JSON (its loc is a character offset)."""
    loc = [str(p) for p in error.get("loc", ())]
    if loc and loc[0] in LOC_PREFIXES:
        prefix, rest = loc[0], loc[1:]
        if error.get("type") == "json_invalid" or not rest:
            return prefix
        return ".".join(rest)
    return ".".join(loc) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PrometheusError)
    async def backend_down(_: Request, exc: PrometheusError) -> JSONResponse:
        title = (
            "PromQL backend unavailable"
            if exc.status == 503
            else "PromQL backend rejected the query"
        )
        return problem(exc.status, title, str(exc), backend=exc.backend, cause=exc.cause)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors
        )
        return problem(
            422, "Invalid request", detail or "invalid request", field=problem_field(first)
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = TITLES.get(exc.status_code, "Error")
        return problem(exc.status_code, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "Internal error", f"{type(exc).__name__}; see the server log")
