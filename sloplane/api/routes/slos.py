"""``/slos``: definitions, status now (or at a time) and history over a range."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from sloplane.api.errors import BACKEND_ERRORS, NOT_FOUND, READ_ERRORS, invalid
from sloplane.api.schemas import AlertHistory, ListedStatus, SLOHistory, SLOStatus, SLOSummary
from sloplane.api.state import (
    V1,
    AtParam,
    Reader,
    StateDep,
    at_time,
    cache_for,
    find_slo,
    unix,
)
from sloplane.clients.prometheus import PrometheusError
from sloplane.reports.redact import redact
from sloplane.slo.durations import DurationError, parse_seconds
from sloplane.slo.facts import SLOFacts
from sloplane.slo.model import SLO

router = APIRouter(prefix=V1, tags=["slos"], dependencies=[Reader])
SloId = Annotated[str, Path(max_length=300)]


def summary(slo: SLO, status: ListedStatus | None = None, cause: str | None = None) -> SLOSummary:
    return SLOSummary(
        **SLOFacts.fields_from(slo),
        description=slo.description,
        window_seconds=slo.window,
        labels=dict(slo.labels),
        runbook_url=slo.runbook_url,
        status=status,
        status_cause=cause,
    )


@router.get("/slos", response_model=list[SLOSummary], responses=BACKEND_ERRORS)
async def list_slos(
    st: StateDep,
    response: Response,
    service: Annotated[str | None, Query(max_length=200)] = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    status: ListedStatus | None = None,
    at: AtParam = None,
) -> list[SLOSummary]:
    """List SLOs with their status now (or ``at``), optionally filtered by service, team or
    status. The status is read as ``/slos/{id}/status`` reads it, from the same cache.

    The list is an inventory: when the backend fails for an SLO, that SLO is listed with
    ``status: unknown`` and ``status_cause`` instead of failing the whole list. Filtering
    by a status while some are unknown cannot be answered (an empty list would say "none
    breached"), so that is the backend's 503, unless ``status=unknown`` is asked for."""
    slos = [
        s
        for s in st.catalog.slos
        if (service is None or s.service == service) and (team is None or s.team == team)
    ]
    when = at_time(at)
    results = await st.service.statuses_or_errors(slos, when)
    cache_for(response, st.service.max_age(slos, when))
    failed = [r for r in results if isinstance(r, PrometheusError)]
    if failed and status not in (None, "unknown"):
        raise failed[0]
    out = []
    for slo, result in zip(slos, results, strict=True):
        if isinstance(result, PrometheusError):
            listed = summary(slo, "unknown", redact(str(result)))
        else:
            listed = summary(slo, result.status)
        if status is None or listed.status == status:
            out.append(listed)
    return out


@router.get("/slos/{slo_id}", response_model=SLOSummary, responses={**READ_ERRORS, **NOT_FOUND})
async def get_slo(st: StateDep, slo_id: SloId) -> SLOSummary:
    """The SLO's definition."""
    return summary(find_slo(st, slo_id))


@router.get(
    "/slos/{slo_id}/status", response_model=SLOStatus, responses={**BACKEND_ERRORS, **NOT_FOUND}
)
async def slo_status(st: StateDep, slo_id: SloId, at: AtParam = None) -> Response:
    """SLI over the window, error budget, burn rate per alert window, firing alerts, status."""
    slo = find_slo(st, slo_id)
    when = at_time(at)
    response = Response(await st.service.status_json(slo, when), media_type="application/json")
    return cache_for(response, st.service.max_age([slo], when))


@router.get(
    "/slos/{slo_id}/groups",
    response_model=list[SLOStatus],
    responses={**BACKEND_ERRORS, **NOT_FOUND},
)
async def slo_groups(
    st: StateDep, response: Response, slo_id: SloId, at: AtParam = None
) -> list[SLOStatus]:
    """Every group's status (``group_by`` SLOs), worst first: breached, at risk, short of
    history, ok, no data; then the least budget left. An SLO without ``group_by`` has one
    entry, the same as its status."""
    slo = find_slo(st, slo_id)
    when = at_time(at)
    groups = await st.service.group_statuses(slo, when)
    cache_for(response, st.service.max_age([slo], when))
    return groups


@router.get(
    "/slos/{slo_id}/history",
    response_model=SLOHistory,
    responses={**BACKEND_ERRORS, **NOT_FOUND},
)
async def slo_history(
    st: StateDep,
    slo_id: SloId,
    start: Annotated[datetime | None, Query(description="Default: end - 24h")] = None,
    end: Annotated[datetime | None, Query(description="Default: now")] = None,
    step: Annotated[
        str | None,
        Query(max_length=20, description="Seconds or a duration (5m); default about 250 points"),
    ] = None,
    group: Annotated[
        list[str] | None,
        Query(
            max_length=10,
            description="For group_by SLOs: label=value for each group label (e.g. "
            "route=/checkout); default: the worst group at each point",
        ),
    ] = None,
) -> SLOHistory:
    """SLI, remaining error budget and burn rate over a time range."""
    slo = find_slo(st, slo_id)
    chosen = parse_group(slo, group)
    t_end = unix(end) or time.time()
    t_start = unix(start) or t_end - 86400
    if t_end <= t_start:
        raise invalid("query", "end", "end must be after start")
    limits = st.settings
    if t_end - t_start > limits.max_range_seconds:
        raise invalid("query", "start", f"range longer than {limits.max_range_seconds}s")
    step_s = parse_step(step, t_start, t_end)
    if (t_end - t_start) / step_s > limits.max_points:
        raise invalid("query", "step", f"more than {limits.max_points} points: use a larger step")
    return await st.service.history(slo, t_start, t_end, step_s, chosen)


@router.get(
    "/slos/{slo_id}/alerts",
    response_model=AlertHistory,
    responses={**BACKEND_ERRORS, **NOT_FOUND},
)
async def slo_alerts(
    st: StateDep,
    slo_id: SloId,
    start: Annotated[datetime | None, Query(description="Default: end - the SLO window")] = None,
    end: Annotated[datetime | None, Query(description="Default: now")] = None,
) -> AlertHistory:
    """When the SLO's generated alerts fired over a range, from Prometheus' ``ALERTS``
    series: ``[start, end)`` intervals per alert, each end exact to within ``step``."""
    slo = find_slo(st, slo_id)
    t_end = unix(end) or time.time()
    t_start = unix(start) or t_end - slo.window
    if t_end <= t_start:
        raise invalid("query", "end", "end must be after start")
    if t_end - t_start > st.settings.max_range_seconds:
        raise invalid("query", "start", f"range longer than {st.settings.max_range_seconds}s")
    return await st.service.alert_history(slo, t_start, t_end)


def parse_group(slo: SLO, group: list[str] | None) -> dict[str, str] | None:
    """``["route=/checkout"]`` as labels; every group label exactly once, nothing else."""
    if not group:
        return None
    pairs = [g.partition("=") for g in group]
    labels = {k: v for k, _, v in pairs}
    if (
        any(not sep for _, sep, _ in pairs)
        or sorted(labels) != sorted(slo.group_by)
        or len(labels) != len(pairs)
    ):
        wanted = ", ".join(f"{g}=<value>" for g in slo.group_by) or "none (no group_by)"
        raise invalid("query", "group", f"give each group label once: {wanted}")
    return labels


def parse_step(step: str | None, start: float, end: float) -> float:
    """Seconds (``60``) or a duration (``5m``); by default whole minutes, about 250 points."""
    if step is None:
        return float(max(60, math.ceil((end - start) / 250 / 60) * 60))
    try:
        value = float(step) if step.replace(".", "", 1).isdigit() else parse_seconds(step)
    except (DurationError, ValueError):
        raise invalid("query", "step", "use seconds or a duration like 5m") from None
    if not 1 <= value <= 86400 * 31:
        raise invalid("query", "step", "step must be between 1s and 31d")
    return value
