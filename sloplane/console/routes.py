"""The console's pages and forms. Each handler reads the API as the visitor (see render.Page).

Forms that change state (log in, log out, generate a report, approve or reject) are
POSTs with a CSRF token; the admin ones re-check the visitor's scope with the API and
answer 403 to anyone else, whatever the page showed.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sloplane.console import charts, detectors, incidents, views
from sloplane.console.render import (
    SECURITY_HEADERS,
    ApiFailed,
    LoginRequired,
    Page,
    console_of,
    login_redirect,
    secure,
    with_params,
)
from sloplane.console.session import (
    NONCE_COOKIE,
    TOKEN_COOKIE,
    TOKEN_MAX_AGE,
    clear_cookie,
    role_of,
    set_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
MaybeStr = Annotated[str | None, Form(max_length=500)]
V1 = "/api/v1"


def q(part: str) -> str:
    return quote(part, safe="")


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
    return page.render(
        "list.html",
        rows=rows,
        total=len(everything),
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
async def slo_page(request: Request, slo_id: str) -> Response:
    """One SLO: SLI and budget over the window, burn per alert window, groups, definition."""
    page = await Page.of(request)
    page.require_read()
    base = f"{V1}/slos/{q(slo_id)}"
    definition = await page.get(base, f"SLO {slo_id!r}", at=None)
    status = await page.get(f"{base}/status", f"the status of {slo_id!r}")
    end = at_seconds(page.at)
    start = end - float(definition["window_seconds"])
    history = await page.try_get(f"{base}/history", start=iso(start), end=iso(end), at=None)
    groups = await page.try_get(f"{base}/groups")
    defn = await page.try_get(f"{base}/definition", at=None)
    alerts = await page.try_get(f"{base}/alerts", start=iso(start), end=iso(end), at=None)
    if alerts.ok and isinstance(alerts.body, list):
        found = incidents.Incidents([incidents.interval(i) for i in alerts.body], source="api")
    else:
        found = await incidents.from_reports(page, definition, start, end)
    return page.render(
        "slo.html",
        slo=definition,
        status=status,
        history=history.body if history.ok else None,
        history_error=None if history.ok else history.detail,
        history_charts=slo_charts(status, history.body) if history.ok else {},
        burn=charts.burn_chart(burn_rows(status)),
        groups=groups.body if groups.ok and isinstance(groups.body, list) and groups.body else None,
        incidents=found,
        timeline=charts.timeline(found.intervals, start, end),
        extra=definition_extras(definition),
        defn=defn.body if defn.ok and isinstance(defn.body, dict) else None,
        budget_bar=charts.budget_bar,
    )


def burn_rows(status: dict[str, Any]) -> list[charts.BurnRow]:
    return [
        charts.BurnRow(
            label=f"{b['severity']} {b['long_window']}/{b['short_window']}",
            threshold=float(b["threshold"]),
            long_rate=views.number(b.get("long_burn_rate")),
            short_rate=views.number(b.get("short_burn_rate")),
            burning=bool(b.get("burning")),
        )
        for b in status.get("burn_rates") or []
    ]


def slo_charts(status: dict[str, Any], history: dict[str, Any]) -> dict[str, Any]:
    points = history.get("points") or []
    objective = float(status["objective"])
    burn_window = history.get("burn_rate_window")
    span = (float(history["start"]), float(history["end"]))
    thresholds = [
        charts.HLine(float(b["threshold"]), f"{b['severity']} {b['threshold']:g}×", b["severity"])
        for b in status.get("burn_rates") or []
        if b["long_window"] == burn_window
    ]

    def series(key: str) -> list[charts.Point]:
        return [(float(p["t"]), views.number(p.get(key))) for p in points]

    return {
        "sli": charts.line_chart(
            series("sli"),
            title="SLI against the objective",
            desc=f"Good ratio over the {status['window']} window; the objective "
            f"{views.objective_pct(objective)} is the horizontal line.",
            y_format=lambda v: views.pct(v, 3),
            hlines=[
                charts.HLine(objective, f"objective {views.objective_pct(objective)}", "objective")
            ],
            y_ceiling=1.0,
            chart_id="sli",
            span=span,
        ),
        "budget": charts.line_chart(
            series("budget_remaining_ratio"),
            title="Error budget remaining",
            desc="Share of the error budget left over the window; below zero the SLO is breached.",
            y_format=lambda v: views.pct(v, 0),
            hlines=[
                charts.HLine(0.0, "exhausted", "page"),
                charts.HLine(0.25, "at risk", "ticket"),
            ],
            y_floor=0.0,
            y_ceiling=1.0,
            chart_id="budget",
            span=span,
        ),
        "burn": charts.line_chart(
            series("burn_rate"),
            title=f"Burn rate over {burn_window}",
            desc="Burn rate of the shortest page window with the page and ticket thresholds.",
            y_format=lambda v: f"{v:.1f}×",
            hlines=thresholds,
            y_floor=0.0,
            chart_id="burnhist",
            span=span,
        ),
    }


KNOWN_DEFINITION = {
    "id",
    "service",
    "name",
    "team",
    "description",
    "objective",
    "window",
    "window_seconds",
    "labels",
    "runbook_url",
    "status",
}


def definition_extras(definition: dict[str, Any]) -> dict[str, Any]:
    """Definition fields the API added beyond the summary (queries, source, rule names)."""
    return {k: v for k, v in definition.items() if k not in KNOWN_DEFINITION}


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


@router.post("/reports/generate")
async def generate_report(
    request: Request, scope: MaybeStr = None, week: MaybeStr = None, csrf: MaybeStr = None
) -> Response:
    page = await admin_form(request, csrf)
    if not scope or not week:
        return page.render(
            "message.html",
            status_code=422,
            title="Missing input",
            message="Choose a scope and a week.",
        )
    answer = await page.console.api.post(f"{V1}/reports/{q(scope)}/{q(week)}", page.visitor.token)
    if not answer.ok:
        raise ApiFailed(answer, f"the report for {scope} {week}", verb="generate")
    return page.finish(
        RedirectResponse(
            with_params("/ui/reports", done=f"generated {scope} {week}"), status_code=303
        )
    )


async def admin_form(request: Request, csrf: str | None) -> Page:
    """The checks of every admin form: a valid CSRF token, then the admin scope (403)."""
    page = await Page.of(request)
    if not page.check_csrf(csrf):
        raise Forbidden(
            page, "The form expired or did not come from this console; reload and retry."
        )
    if not page.visitor.is_admin:
        raise Forbidden(page, "This needs an admin token.")
    return page


class Forbidden(Exception):
    def __init__(self, page: Page, message: str) -> None:
        super().__init__(message)
        self.page = page
        self.message = message


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


@router.post("/decisions/{approval_id}/{verdict}")
async def decide(
    request: Request, approval_id: int, verdict: str, csrf: MaybeStr = None
) -> Response:
    page = await admin_form(request, csrf)
    if verdict not in ("approve", "reject"):
        return page.render(
            "message.html", status_code=404, title="Not found", message="Use approve or reject."
        )
    ok, detail = await detectors.decide(page.console.settings, approval_id, verdict)
    if not ok:
        return page.render(
            "message.html", status_code=502, title="The detector service refused", message=detail
        )
    return page.finish(
        RedirectResponse(
            with_params("/ui/decisions", done=f"#{approval_id}: {detail}"), status_code=303
        )
    )


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    page = await Page.of(request)
    return page.render("login.html", next=safe_next(next), error=None)


def safe_next(target: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


@router.post("/login")
async def login(
    request: Request,
    token: Annotated[str, Form(max_length=500)] = "",
    next: MaybeStr = None,
    csrf: MaybeStr = None,
) -> Response:
    page = await Page.of(request)
    if not page.check_csrf(csrf):
        raise Forbidden(
            page, "The form expired or did not come from this console; reload and retry."
        )
    token = token.strip()
    if await role_of(page.console.api, token) not in ("admin", "read"):
        return page.render(
            "login.html", status_code=401, next=safe_next(next), error="Unknown or revoked token."
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, TOKEN_COOKIE, token, secure(request), TOKEN_MAX_AGE)
    # a fresh nonce at each login: a form token seen before login is worth nothing after
    set_cookie(response, NONCE_COOKIE, secrets.token_urlsafe(24), secure(request), TOKEN_MAX_AGE)
    response.headers.update(SECURITY_HEADERS)
    return response


@router.post("/logout")
async def logout(request: Request, csrf: MaybeStr = None) -> Response:
    page = await Page.of(request)
    if not page.check_csrf(csrf):
        raise Forbidden(
            page, "The form expired or did not come from this console; reload and retry."
        )
    response = RedirectResponse("/ui/login", status_code=303)
    clear_cookie(response, TOKEN_COOKIE, secure(request))
    response.headers.update(SECURITY_HEADERS)
    return response


def install_handlers(app: Any) -> None:
    """Login redirects, API failures and refusals as console pages (only console code raises them)."""

    async def on_login(request: Request, exc: Exception) -> Response:
        return login_redirect(request)

    async def on_failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiFailed)
        page = await Page.of(request)
        status = exc.answer.status if exc.answer.status in (403, 404, 422, 503) else 502
        return page.render(
            "message.html",
            status_code=status,
            title=f"Could not {exc.verb} {exc.what}",
            message=f"The API answered {exc.answer.status}: {exc.answer.detail}",
        )

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        return exc.page.render(
            "message.html", status_code=403, title="Forbidden", message=exc.message
        )

    app.add_exception_handler(LoginRequired, on_login)
    app.add_exception_handler(ApiFailed, on_failed)
    app.add_exception_handler(Forbidden, on_forbidden)


__all__ = ["console_of", "install_handlers", "router"]
