"""``/slos``: definitions, status now (or at a time) and history over a range."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from sloplane.api.errors import BACKEND_ERRORS, NOT_FOUND, READ_ERRORS, invalid
from sloplane.api.schemas import SLOHistory, SLOStatus, SLOSummary, Status
from sloplane.api.state import V1, AtParam, Reader, StateDep, at_time, find_slo, unix
from sloplane.slo.durations import DurationError, parse_seconds
from sloplane.slo.facts import SLOFacts
from sloplane.slo.model import SLO

router = APIRouter(prefix=V1, tags=["slos"], dependencies=[Reader])
SloId = Annotated[str, Path(max_length=300)]


def summary(slo: SLO, status: Status | None = None) -> SLOSummary:
    return SLOSummary(
        **SLOFacts.fields_from(slo),
        description=slo.description,
        window_seconds=slo.window,
        labels=dict(slo.labels),
        runbook_url=slo.runbook_url,
        status=status,
    )


@router.get("/slos", response_model=list[SLOSummary], responses=BACKEND_ERRORS)
async def list_slos(
    st: StateDep,
    service: Annotated[str | None, Query(max_length=200)] = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    status: Status | None = None,
    at: AtParam = None,
) -> list[SLOSummary]:
    """List SLOs with their status now (or ``at``), optionally filtered by service, team or
    status. The status is read as ``/slos/{id}/status`` reads it, from the same cache."""
    slos = [
        s
        for s in st.catalog.slos
        if (service is None or s.service == service) and (team is None or s.team == team)
    ]
    statuses = await st.service.statuses(slos, at_time(at))
    return [
        summary(s, x.status)
        for s, x in zip(slos, statuses, strict=True)
        if status is None or x.status == status
    ]


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
    return Response(await st.service.status_json(slo, at_time(at)), media_type="application/json")


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
) -> SLOHistory:
    """SLI, remaining error budget and burn rate over a time range."""
    slo = find_slo(st, slo_id)
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
    return await st.service.history(slo, t_start, t_end, step_s)


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
