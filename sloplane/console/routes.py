"""The console's pages (GET). Each handler reads the API as the visitor (see render.Page);
the forms that change state are in :mod:`.forms`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sloplane.console import charts, detectors, incidents, slo_page, views
from sloplane.console.render import (
    ApiFailed,
    LoginRequired,
    Page,
    q,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
MaybeStr = Annotated[str | None, Form(max_length=500)]
V1 = "/api/v1"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def at_seconds(at: str | None) -> float:
    """The ``at`` the pages look at as unix seconds (the API validated it already)."""
    if not at:
        return time.time()
    try:
        return float(at)
    except ValueError:
        return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


DEFAULT_DESC = {"worst": False, "name": False, "sli": False, "budget": False}


@router.get("")
async def root() -> Response:
    return RedirectResponse("/ui/", status_code=308)


@router.get("/")
async def slo_list(
    request: Request,
    service: str | None = None,
    team: str | None = None,
    status: str | None = None,
    sort: str = "worst",
    order: str | None = None,
) -> Response:
    """Every SLO, worst first (or sorted by a column), filtered by the URL's parameters."""
    page = await Page.of(request)
    page.require_read()
    groups = await page.get(f"{V1}/services", "the SLO statuses")
    everything = views.flatten_groups(groups)
    sort = sort if sort in views.SORTS else "worst"
    descending = order == "desc" if order in ("asc", "desc") else DEFAULT_DESC.get(sort, True)
    rows = views.sort_statuses(
        views.filter_statuses(everything, service, team, status), sort, descending
    )
    times = [t for s in everything if (t := views.number(s.get("evaluated_at"))) is not None]
    return page.render(
        "list.html",
        rows=rows,
        total=len(everything),
        evaluated=(min(times), max(times)) if times else None,
        services=sorted({s["service"] for s in everything}),
        teams=sorted({s.get("team") or "" for s in everything}),
        statuses=sorted(
            {s["status"] for s in everything} | set(views.STATUS_RANK), key=views.status_rank
        ),
        filters={"service": service, "team": team, "status": status},
        sort=sort,
        descending=descending,
        sort_link=lambda key: page.link(
            "/ui/",
            service=service,
            team=team,
            status=status,
            sort=key,
            order=("asc" if descending else "desc") if key == sort else None,
        ),
    )


@router.get("/slos/{slo_id}")
async def slo_view(
    request: Request,
    slo_id: str,
    group: Annotated[list[str] | None, Query(max_length=10)] = None,
) -> Response:
    """One SLO: SLI and budget over the window, burn per alert window, groups, definition.
    ``group`` (``label=value`` per group label, as the API's history takes it): the
    history charts are that group's, not the worst group's at each point."""
    page = await Page.of(request)
    page.require_read()
    base = f"{V1}/slos/{q(slo_id)}"
    definition = await page.get(base, f"SLO {slo_id!r}", at=None)
    status = await page.get(f"{base}/status", f"the status of {slo_id!r}")
    end = at_seconds(page.at)
    start = end - float(definition["window_seconds"])
    history = await page.try_get(
        f"{base}/history", start=iso(start), end=iso(end), at=None, group=group or None
    )
    groups = await page.try_get(f"{base}/groups")
    defn = await page.try_get(f"{base}/definition", at=None)
    alerts = await page.try_get(f"{base}/alerts", start=iso(start), end=iso(end), at=None)
    if alerts.ok and isinstance(alerts.body, dict):
        found = incidents.from_api(alerts.body)
    else:
        found = await incidents.from_reports(page, definition, start, end)
        found.error = alerts.detail
    return page.render(
        "slo.html",
        slo=definition,
        status=status,
        history=history.body if history.ok else None,
        history_error=None if history.ok else history.detail,
        history_charts=slo_page.slo_charts(status, history.body) if history.ok else {},
        burn=charts.burn_chart(slo_page.burn_rows(status)),
        groups=groups.body if groups.ok and isinstance(groups.body, list) and groups.body else None,
        incidents=found,
        timeline=charts.timeline(found.intervals, start, end),
        extra=slo_page.definition_extras(definition),
        defn=defn.body if defn.ok and isinstance(defn.body, dict) else None,
        budget_bar=charts.budget_bar,
        chosen=chosen_group(group),
        group_link=lambda labels: (
            page.link(f"/ui/slos/{q(slo_id)}", group=views.group_params(labels) or None) + "#hist-h"
        ),
    )


def chosen_group(group: list[str] | None) -> dict[str, str] | None:
    """``["job=checkout"]`` as ``{"job": "checkout"}`` (the API validated the labels)."""
    if not group:
        return None
    return dict(g.partition("=")[::2] for g in group)


async def _group_page(request: Request, kind: str, key: str) -> Response:
    page = await Page.of(request)
    page.require_read()
    group = await page.get(f"{V1}/{kind}s/{q(key)}", f"{kind} {key!r}")
    rows = views.sort_statuses(group.get("statuses") or [], "worst", False)
    return page.render("group.html", kind=kind, group=group, rows=rows)


async def _groups_page(request: Request, kind: str) -> Response:
    page = await Page.of(request)
    page.require_read()
    groups = await page.get(f"{V1}/{kind}s", f"the {kind} summaries")
    return page.render("groups.html", kind=kind, groups=sorted(groups, key=views.group_key))


@router.get("/services")
async def services(request: Request) -> Response:
    return await _groups_page(request, "service")


@router.get("/services/{service}")
async def service_page(request: Request, service: str) -> Response:
    return await _group_page(request, "service", service)


@router.get("/teams")
async def teams(request: Request) -> Response:
    return await _groups_page(request, "team")


@router.get("/teams/{team}")
async def team_page(request: Request, team: str) -> Response:
    return await _group_page(request, "team", team)


def last_week() -> str:
    """The ISO week that ended most recently (UTC): the one "generate now" offers first."""
    year, week, _ = datetime.fromtimestamp(time.time() - 7 * 86400, UTC).isocalendar()
    return f"{year}-W{week:02d}"


@router.get("/reports")
async def reports(request: Request, done: str | None = None) -> Response:
    page = await Page.of(request)
    page.require_read()
    listed = await page.get(f"{V1}/reports", "the stored reports", at=None)
    # suggestions only (any scope can be typed): no status query just to list names
    scopes = sorted({"all"} | {r["scope"] for r in listed})
    return page.render("reports.html", reports=listed, scopes=scopes, week=last_week(), done=done)


@router.get("/reports/{scope}/{week}")
async def report_page(request: Request, scope: str, week: str) -> Response:
    page = await Page.of(request)
    page.require_read()
    listed = await page.get(f"{V1}/reports", "the stored reports", scope=scope, at=None)
    info = next((r for r in listed if r["week"] == week), None)
    if info is None:
        raise ApiFailed(_missing(f"no report for scope {scope!r} and week {week}"), "the report")
    return page.render("report.html", info=info, body_url=f"/ui/reports/{q(scope)}/{q(week)}/body")


def _missing(detail: str) -> Any:
    from sloplane.console.apiclient import ApiAnswer

    return ApiAnswer(404, {"detail": detail}, detail)


REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


@router.get("/reports/{scope}/{week}/body")
async def report_body(request: Request, scope: str, week: str) -> Response:
    """The API's HTML rendering of the report, framed by the report page (sandboxed: the
    report's own styles apply, nothing in it can run or navigate the console)."""
    page = await Page.of(request)
    page.require_read()
    answer = await page.try_get(f"{V1}/reports/{q(scope)}/{q(week)}", format="html", at=None)
    if answer.status == 401:
        raise LoginRequired
    if not answer.ok:
        raise ApiFailed(answer, "the report")
    response = HTMLResponse(answer.text)
    page.finish(response)
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@router.get("/decisions")
async def decisions(request: Request, done: str | None = None) -> Response:
    page = await Page.of(request)
    page.require_read()
    settings = page.console.settings
    if settings.detector_url is None:
        return page.render("decisions.html", configured=False, done=done)
    audit, pending, error = await detectors.read(settings)
    return page.render(
        "decisions.html", configured=True, audit=audit, pending=pending, error=error, done=done
    )


__all__ = ["router"]
