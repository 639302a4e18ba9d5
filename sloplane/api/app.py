"""The SLO API (FastAPI): status, history, summaries and weekly reports, versioned under /api/v1.

Built by :func:`create_app` from a catalog and settings, so tests and the CLI run
the same application. Every error leaves as an RFC 9457 problem document; the
backend being down is a 503 naming the backend and the cause, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from sloplane import __version__
from sloplane.api.auth import TokenStore, grants
from sloplane.api.backend import SharedPrometheus
from sloplane.api.cache import ResponseCache
from sloplane.api.db import open_database
from sloplane.api.schemas import (
    GroupSummary,
    Health,
    Problem,
    ReportInfo,
    ReportRun,
    SLOHistory,
    SLOStatus,
    SLOSummary,
    Status,
    TokenCreate,
    TokenCreated,
    TokenInfo,
)
from sloplane.api.service import SLOService, group_statuses
from sloplane.api.settings import ApiSettings
from sloplane.clients.prometheus import PrometheusError
from sloplane.reports import store
from sloplane.reports.collect import ScopeError, UnknownScope
from sloplane.reports.runner import check_request, run_report
from sloplane.reports.scheduler import due_week, start_scheduler
from sloplane.reports.weeks import WeekError
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import DurationError, parse_duration
from sloplane.slo.facts import SLOFacts
from sloplane.slo.model import SLO

log = logging.getLogger("sloplane.api")

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
READ_ERRORS: dict[int | str, dict[str, Any]] = {401: PROBLEM, 403: PROBLEM, 422: PROBLEM}
BACKEND_ERRORS: dict[int | str, dict[str, Any]] = {**READ_ERRORS, 502: PROBLEM, 503: PROBLEM}


class State:
    """Per-application state, created in the lifespan."""

    def __init__(
        self,
        catalog: Catalog,
        settings: ApiSettings,
        sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.client = SharedPrometheus(
            settings.prometheus_url,
            timeout=settings.query_timeout,
            cache_ttl=settings.cache_ttl,
            max_concurrency=settings.max_concurrency,
        )
        self.service = SLOService(catalog, self.client)
        self.sessions: sessionmaker[Session] = sessions or open_database(settings.database_url)
        self.tokens = TokenStore(self.sessions)
        if settings.admin_token:
            self.tokens.ensure("admin (SLOPLANE_ADMIN_TOKEN)", settings.admin_token, ["admin"])
        self.report_lock = asyncio.Lock()

    def scopes(self) -> list[str]:
        out: list[str] = []
        for scope in self.settings.report_scopes:
            if scope == "teams":
                out.extend(f"team:{t}" for t in self.catalog.teams())
            else:
                out.append(scope)
        return out


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, **extra).model_dump(exclude_none=True)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


# -- dependencies -------------------------------------------------------------------------


def state(request: Request) -> State:
    return request.app.state.sloplane  # type: ignore[no-any-return,unused-ignore]


StateDep = Annotated[State, Depends(state)]


def _require(scope: Literal["read", "admin"]) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        st = state(request)
        if scope == "read" and st.settings.open_reads:
            return
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token:
            raise HTTPException(401, "a bearer token is required (Authorization: Bearer <token>)")
        scopes = st.tokens.scopes_of(token.strip())
        if scopes is None:
            raise HTTPException(401, "unknown or revoked token")
        if not grants(scopes, scope):
            raise HTTPException(403, f"this token lacks the {scope!r} scope")

    return check


Reader = Depends(_require("read"))
Admin = Depends(_require("admin"))


def find_slo(st: State, slo_id: str) -> SLO:
    slo = st.catalog.by_id(slo_id)
    if slo is None:
        raise HTTPException(404, f"no SLO with id {slo_id!r}")
    return slo


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _summary(slo: SLO, status: Status | None = None) -> SLOSummary:
    return SLOSummary(
        **SLOFacts.fields_from(slo),
        description=slo.description,
        window_seconds=slo.window,
        labels=dict(slo.labels),
        runbook_url=slo.runbook_url,
        status=status,
    )


def _group(key: str, statuses: list[SLOStatus]) -> GroupSummary:
    remaining = [
        s.error_budget.remaining_ratio
        for s in statuses
        if s.error_budget.remaining_ratio is not None
    ]
    return GroupSummary(
        key=key,
        slos=len(statuses),
        ok=sum(s.status == "ok" for s in statuses),
        at_risk=sum(s.status == "at_risk" for s in statuses),
        breached=sum(s.status == "breached" for s in statuses),
        no_data=sum(s.status == "no_data" for s in statuses),
        worst_budget_remaining_ratio=min(remaining) if remaining else None,
        statuses=statuses,
    )


AtParam = Annotated[
    datetime | None,
    Query(description="Evaluate at this time (RFC 3339 or unix seconds); default now"),
]


# -- routes -------------------------------------------------------------------------------

v1 = APIRouter(prefix="/api/v1")


@v1.get(
    "/slos",
    response_model=list[SLOSummary],
    responses=BACKEND_ERRORS,
    dependencies=[Reader],
    tags=["slos"],
)
async def list_slos(
    st: StateDep,
    service: Annotated[str | None, Query(max_length=200)] = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    status: Status | None = None,
    at: AtParam = None,
) -> list[SLOSummary]:
    """List SLOs, optionally filtered by service, team or current status."""
    slos = [
        s
        for s in st.catalog.slos
        if (service is None or s.service == service) and (team is None or s.team == team)
    ]
    if status is None:
        return [_summary(s) for s in slos]
    statuses = await st.service.statuses(slos, _ts(at))
    return [
        _summary(s, x.status) for s, x in zip(slos, statuses, strict=True) if x.status == status
    ]


@v1.get(
    "/slos/{slo_id}",
    response_model=SLOSummary,
    responses={**READ_ERRORS, 404: PROBLEM},
    dependencies=[Reader],
    tags=["slos"],
)
async def get_slo(st: StateDep, slo_id: Annotated[str, Path(max_length=300)]) -> SLOSummary:
    """The SLO's definition."""
    return _summary(find_slo(st, slo_id))


@v1.get(
    "/slos/{slo_id}/status",
    response_model=SLOStatus,
    responses={**BACKEND_ERRORS, 404: PROBLEM},
    dependencies=[Reader],
    tags=["slos"],
)
async def slo_status(
    st: StateDep, slo_id: Annotated[str, Path(max_length=300)], at: AtParam = None
) -> Response:
    """SLI over the window, error budget, burn rate per alert window, firing alerts, status."""
    slo = find_slo(st, slo_id)
    return Response(await st.service.status_json(slo, _ts(at)), media_type="application/json")


@v1.get(
    "/slos/{slo_id}/history",
    response_model=SLOHistory,
    responses={**BACKEND_ERRORS, 404: PROBLEM},
    dependencies=[Reader],
    tags=["slos"],
)
async def slo_history(
    st: StateDep,
    slo_id: Annotated[str, Path(max_length=300)],
    start: Annotated[datetime | None, Query(description="Default: end - 24h")] = None,
    end: Annotated[datetime | None, Query(description="Default: now")] = None,
    step: Annotated[
        str | None,
        Query(max_length=20, description="Seconds or a duration (5m); default about 250 points"),
    ] = None,
) -> SLOHistory:
    """SLI, remaining error budget and burn rate over a time range."""
    slo = find_slo(st, slo_id)
    t_end = _ts(end) or time.time()
    t_start = _ts(start) or t_end - 86400
    if t_end <= t_start:
        raise RequestValidationError([_err("query", "end", "end must be after start")])
    if t_end - t_start > st.settings.max_range_seconds:
        raise RequestValidationError(
            [_err("query", "start", f"range longer than {st.settings.max_range_seconds}s")]
        )
    step_s = _step(step, t_start, t_end)
    if (t_end - t_start) / step_s > st.settings.max_points:
        raise RequestValidationError(
            [_err("query", "step", f"more than {st.settings.max_points} points: use a larger step")]
        )
    return await st.service.history(slo, t_start, t_end, step_s)


def _step(step: str | None, start: float, end: float) -> float:
    if step is None:
        return float(max(60, math.ceil((end - start) / 250 / 60) * 60))
    try:
        value = float(step) if step.replace(".", "", 1).isdigit() else float(parse_duration(step))
    except (DurationError, ValueError):
        raise RequestValidationError(
            [_err("query", "step", "use seconds or a duration like 5m")]
        ) from None
    if not 1 <= value <= 86400 * 31:
        raise RequestValidationError([_err("query", "step", "step must be between 1s and 31d")])
    return value


def _err(where: str, field: str, msg: str) -> dict[str, Any]:
    return {"loc": (where, field), "msg": msg, "type": "value_error"}


async def _groups(st: State, key: str, at: float | None) -> list[GroupSummary]:
    statuses = await st.service.statuses(st.catalog.slos, at)
    return [_group(k, v) for k, v in sorted(group_statuses(statuses, key).items())]


@v1.get(
    "/services",
    response_model=list[GroupSummary],
    responses=BACKEND_ERRORS,
    dependencies=[Reader],
    tags=["summaries"],
)
async def services(st: StateDep, at: AtParam = None) -> list[GroupSummary]:
    """Per-service summary: counts by status and the lowest remaining budget."""
    return await _groups(st, "service", _ts(at))


@v1.get(
    "/services/{service}",
    response_model=GroupSummary,
    responses={**BACKEND_ERRORS, 404: PROBLEM},
    dependencies=[Reader],
    tags=["summaries"],
)
async def service_summary(
    st: StateDep, service: Annotated[str, Path(max_length=200)], at: AtParam = None
) -> GroupSummary:
    slos = st.catalog.for_service(service)
    if not slos:
        raise HTTPException(404, f"no SLOs for service {service!r}")
    return _group(service, await st.service.statuses(slos, _ts(at)))


@v1.get(
    "/teams",
    response_model=list[GroupSummary],
    responses=BACKEND_ERRORS,
    dependencies=[Reader],
    tags=["summaries"],
)
async def teams(st: StateDep, at: AtParam = None) -> list[GroupSummary]:
    """Per-team summary (SLOs without a team are grouped under the empty key)."""
    return await _groups(st, "team", _ts(at))


@v1.get(
    "/teams/{team}",
    response_model=GroupSummary,
    responses={**BACKEND_ERRORS, 404: PROBLEM},
    dependencies=[Reader],
    tags=["summaries"],
)
async def team_summary(
    st: StateDep, team: Annotated[str, Path(max_length=200)], at: AtParam = None
) -> GroupSummary:
    slos = tuple(s for s in st.catalog.slos if s.team == team)
    if not slos:
        raise HTTPException(404, f"no SLOs for team {team!r}")
    return _group(team, await st.service.statuses(slos, _ts(at)))


# -- reports ------------------------------------------------------------------------------

ScopePath = Annotated[str, Path(max_length=200, description="all, team:<name> or service:<name>")]
WeekPath = Annotated[str, Path(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W47")]


@v1.get(
    "/reports",
    response_model=list[ReportInfo],
    responses=READ_ERRORS,
    dependencies=[Reader],
    tags=["reports"],
)
def list_reports(
    st: StateDep, scope: Annotated[str | None, Query(max_length=200)] = None
) -> list[ReportInfo]:
    """Stored weekly reports, newest week first."""
    return store.list_snapshots(st.sessions, scope)


@v1.get(
    "/reports/runs",
    response_model=list[ReportRun],
    responses=READ_ERRORS,
    dependencies=[Reader],
    tags=["reports"],
)
def list_runs(st: StateDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ReportRun]:
    """Report runs (scheduled, caught up after a restart, or asked for), newest first."""
    return store.list_runs(st.sessions, limit)


@v1.get(
    "/reports/{scope}/{week}",
    responses={
        **READ_ERRORS,
        404: PROBLEM,
        200: {"content": {"application/json": {}, "text/html": {}, "text/markdown": {}}},
    },
    dependencies=[Reader],
    tags=["reports"],
)
def get_report(
    st: StateDep, scope: ScopePath, week: WeekPath, format: Literal["json", "md", "html"] = "json"
) -> Response:
    """One stored report in JSON, Markdown or HTML."""
    body = store.get_snapshot(st.sessions, scope, week, format)
    if body is None:
        raise HTTPException(404, f"no report for scope {scope!r} and week {week}")
    if format == "html":
        return HTMLResponse(body)
    if format == "md":
        return PlainTextResponse(body, media_type="text/markdown; charset=utf-8")
    return Response(body, media_type="application/json")


@v1.post(
    "/reports/{scope}/{week}",
    response_model=ReportInfo,
    responses={**BACKEND_ERRORS, 404: PROBLEM},
    dependencies=[Admin],
    tags=["reports"],
)
async def generate_report(st: StateDep, scope: ScopePath, week: WeekPath) -> ReportInfo:
    """Generate (or regenerate: one report per scope and week) the report now.

    422 for a week that has not ended in the report timezone or a malformed scope; 404 for
    a team or service without SLOs."""
    try:
        check_request(st.catalog, week, scope, _tz(st))
    except UnknownScope as exc:
        raise HTTPException(404, str(exc)) from None
    except (WeekError, ScopeError) as exc:
        raise RequestValidationError(
            [_err("path", "week" if isinstance(exc, WeekError) else "scope", str(exc))]
        ) from None
    async with st.report_lock:
        await run_report(
            st.catalog, st.client, week, scope, _tz(st), st.sessions, st.settings.delivery
        )
    return next(r for r in store.list_snapshots(st.sessions, scope) if r.week == week)


def _tz(st: State) -> str:
    return st.settings.schedule.timezone if st.settings.schedule else "UTC"


# -- tokens -------------------------------------------------------------------------------


@v1.get(
    "/tokens",
    response_model=list[TokenInfo],
    responses=READ_ERRORS,
    dependencies=[Admin],
    tags=["tokens"],
)
def list_tokens(st: StateDep) -> list[TokenInfo]:
    return st.tokens.list()


@v1.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=201,
    responses={**READ_ERRORS, 409: PROBLEM},
    dependencies=[Admin],
    tags=["tokens"],
)
def create_token(st: StateDep, body: TokenCreate) -> TokenCreated:
    """Create a token; the plain token is in this response only (the database keeps its hash)."""
    try:
        return st.tokens.create(body.name, list(body.scopes))
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None


@v1.delete(
    "/tokens/{token_id}",
    status_code=204,
    responses={**READ_ERRORS, 404: PROBLEM},
    dependencies=[Admin],
    tags=["tokens"],
)
def delete_token(st: StateDep, token_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    if not st.tokens.delete(token_id):
        raise HTTPException(404, f"no token with id {token_id}")
    return Response(status_code=204)


# -- health -------------------------------------------------------------------------------

ops = APIRouter(tags=["operations"])


@ops.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness: the process serves requests."""
    return Health(status="ok")


@ops.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(st: StateDep) -> Response:
    """Readiness: the database answers and the PromQL backend is reachable."""
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(_ping_db, st)
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = f"error: {type(exc).__name__}"
    checks["prometheus"] = "ok" if await st.client.ready() else f"unreachable: {st.client.base_url}"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


def _ping_db(st: State) -> None:
    with st.sessions() as s:
        s.execute(text("SELECT 1"))


# -- assembly -----------------------------------------------------------------------------


def create_app(
    catalog: Catalog, settings: ApiSettings, sessions: sessionmaker[Session] | None = None
) -> FastAPI:
    """``sessions``: an already opened and migrated database (the CLI opens it first to
    report an unreachable one cleanly); otherwise the lifespan opens ``database_url``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st = State(catalog, settings, sessions)
        app.state.sloplane = st
        # Startup objects (catalog, app, libraries) never die: keep them out of GC scans so
        # collections under load stay short.
        gc.collect()
        gc.freeze()
        scheduler = None
        catch_up: asyncio.Task[None] | None = None
        if settings.schedule is not None:
            scheduler = start_scheduler(settings.schedule, lambda week: _scheduled(st, week))
            catch_up = asyncio.create_task(_catch_up(st))
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if catch_up is not None:
                catch_up.cancel()
            await st.client.aclose()

    app = FastAPI(
        title="sloplane SLO API",
        version=__version__,
        description="SLO status, error budgets, burn rates, history and weekly reports.",
        lifespan=lifespan,
    )
    app.include_router(v1)
    app.include_router(ops)
    _mount_optional_routers(app)
    _install_error_handlers(app)
    app.add_middleware(ResponseCache, ttl=settings.cache_ttl)
    _install_body_limit(app, settings.max_body_bytes)
    _install_metrics(app)
    return app


async def _scheduled(st: State, week: str) -> None:
    for scope in st.scopes():
        try:
            async with st.report_lock:
                await run_report(
                    st.catalog, st.client, week, scope, _tz(st), st.sessions, st.settings.delivery
                )
        except Exception:
            log.exception("weekly report %s for %s failed", week, scope)


async def _catch_up(st: State) -> None:
    """Run the most recent due week for each scope if it never succeeded (service was down)."""
    assert st.settings.schedule is not None
    week = due_week(datetime.now().astimezone(), st.settings.schedule)
    missing = [s for s in st.scopes() if not store.succeeded(st.sessions, s, week)]
    for scope in missing:
        try:
            async with st.report_lock:
                await run_report(
                    st.catalog, st.client, week, scope, _tz(st), st.sessions, st.settings.delivery
                )
        except Exception:
            log.exception("catch-up report %s for %s failed", week, scope)


def _mount_optional_routers(app: FastAPI) -> None:
    if importlib.util.find_spec("sloplane.detectors.api") is None:
        return
    try:
        from sloplane.detectors.api import router  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    app.include_router(router, prefix="/api/v1")


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


class BodyTooLarge(StarletteHTTPException):
    """Raised by the counting ``receive``: whoever reads the body gets a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"requests are limited to {limit} body bytes")


class BodyLimit:
    """Rejects oversized requests before routing (pure ASGI: no per-request task overhead).

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
        if too_big or uri_len > 8192:
            status, title = (413, "Request too large") if too_big else (414, "URI too long")
            response = problem(
                status,
                title,
                f"requests are limited to {self.limit} body bytes and 8192 URI characters",
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


def _install_body_limit(app: FastAPI, limit: int) -> None:
    app.add_middleware(BodyLimit, limit=limit)


LOC_PREFIXES = ("body", "query", "path", "header", "cookie")


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


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PrometheusError)
    async def backend_down(_: Request, exc: PrometheusError) -> JSONResponse:
        return problem(
            exc.status,
            "PromQL backend unavailable"
            if exc.status == 503
            else "PromQL backend rejected the query",
            str(exc),
            backend=exc.backend,
            cause=exc.cause,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = problem_field(first)
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors
        )
        return problem(422, "Invalid request", detail or "invalid request", field=field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
            409: "Conflict",
            413: "Request too large",
        }
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem(500, "Internal error", f"{type(exc).__name__}; see the server log")
