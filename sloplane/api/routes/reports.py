"""``/reports``: stored weekly reports, their runs, and generating one now (admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from sloplane.api.errors import BACKEND_ERRORS, NOT_FOUND, READ_ERRORS, invalid
from sloplane.api.state import V1, Admin, Reader, StateDep
from sloplane.reports import store
from sloplane.reports.collect import ScopeError, UnknownScope
from sloplane.reports.model import ReportInfo, ReportRun
from sloplane.reports.runner import check_request, run_report
from sloplane.reports.weeks import WeekError

router = APIRouter(prefix=V1, tags=["reports"])

ScopePath = Annotated[str, Path(max_length=200, description="all, team:<name> or service:<name>")]
WeekPath = Annotated[str, Path(pattern=r"^\d{4}-W\d{2}$", description="ISO week, e.g. 2026-W47")]


@router.get(
    "/reports", response_model=list[ReportInfo], responses=READ_ERRORS, dependencies=[Reader]
)
def list_reports(
    st: StateDep, scope: Annotated[str | None, Query(max_length=200)] = None
) -> list[ReportInfo]:
    """Stored weekly reports, newest week first."""
    return store.list_snapshots(st.sessions, scope)


@router.get(
    "/reports/runs", response_model=list[ReportRun], responses=READ_ERRORS, dependencies=[Reader]
)
def list_runs(st: StateDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ReportRun]:
    """Report runs (scheduled, caught up after a restart, or asked for), newest first."""
    return store.list_runs(st.sessions, limit)


@router.get(
    "/reports/{scope}/{week}",
    responses={
        **READ_ERRORS,
        **NOT_FOUND,
        200: {"content": {"application/json": {}, "text/html": {}, "text/markdown": {}}},
    },
    dependencies=[Reader],
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


@router.post(
    "/reports/{scope}/{week}",
    response_model=ReportInfo,
    responses={**BACKEND_ERRORS, **NOT_FOUND},
    dependencies=[Admin],
)
async def generate_report(st: StateDep, scope: ScopePath, week: WeekPath) -> ReportInfo:
    """Generate (or regenerate: one report per scope and week) the report now.

    422 for a week that has not ended in the report timezone or a malformed scope; 404 for
    a team or service without SLOs."""
    try:
        check_request(st.catalog, week, scope, st.timezone())
    except UnknownScope as exc:
        raise HTTPException(404, str(exc)) from None
    except (WeekError, ScopeError) as exc:
        raise invalid("path", "week" if isinstance(exc, WeekError) else "scope", str(exc)) from None
    async with st.report_lock:
        await run_report(
            st.catalog, st.client, week, scope, st.timezone(), st.sessions, st.settings.delivery
        )
    return next(r for r in store.list_snapshots(st.sessions, scope) if r.week == week)
