"""``/services`` and ``/teams``: counts by status and the lowest remaining budget per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response

from sloplane.api.errors import BACKEND_ERRORS, NOT_FOUND
from sloplane.api.schemas import GroupSummary, SLOStatus
from sloplane.api.service import group_statuses
from sloplane.api.state import V1, AtParam, Reader, State, StateDep, at_time, cache_for

router = APIRouter(prefix=V1, tags=["summaries"], dependencies=[Reader])


def group_summary(key: str, statuses: Sequence[SLOStatus]) -> GroupSummary:
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
        insufficient_data=sum(s.status == "insufficient_data" for s in statuses),
        no_data=sum(s.status == "no_data" for s in statuses),
        worst_budget_remaining_ratio=min(remaining) if remaining else None,
        statuses=list(statuses),
    )


async def _groups(st: State, response: Response, key: str, at: float | None) -> list[GroupSummary]:
    statuses = await st.service.statuses(st.catalog.slos, at)
    cache_for(response, st.service.max_age(st.catalog.slos, at))
    return [group_summary(k, v) for k, v in sorted(group_statuses(statuses, key).items())]


@router.get("/services", response_model=list[GroupSummary], responses=BACKEND_ERRORS)
async def services(st: StateDep, response: Response, at: AtParam = None) -> list[GroupSummary]:
    """Per-service summary: counts by status and the lowest remaining budget."""
    return await _groups(st, response, "service", at_time(at))


@router.get(
    "/services/{service}",
    response_model=GroupSummary,
    responses={**BACKEND_ERRORS, **NOT_FOUND},
)
async def service_summary(
    st: StateDep,
    response: Response,
    service: Annotated[str, Path(max_length=200)],
    at: AtParam = None,
) -> GroupSummary:
    slos = st.catalog.for_service(service)
    if not slos:
        raise HTTPException(404, f"no SLOs for service {service!r}")
    when = at_time(at)
    statuses = await st.service.statuses(slos, when)
    cache_for(response, st.service.max_age(slos, when))
    return group_summary(service, statuses)


@router.get("/teams", response_model=list[GroupSummary], responses=BACKEND_ERRORS)
async def teams(st: StateDep, response: Response, at: AtParam = None) -> list[GroupSummary]:
    """Per-team summary (SLOs without a team are grouped under the empty key)."""
    return await _groups(st, response, "team", at_time(at))


@router.get(
    "/teams/{team}",
    response_model=GroupSummary,
    responses={**BACKEND_ERRORS, **NOT_FOUND},
)
async def team_summary(
    st: StateDep,
    response: Response,
    team: Annotated[str, Path(max_length=200)],
    at: AtParam = None,
) -> GroupSummary:
    slos = tuple(s for s in st.catalog.slos if s.team == team)
    if not slos:
        raise HTTPException(404, f"no SLOs for team {team!r}")
    when = at_time(at)
    statuses = await st.service.statuses(slos, when)
    cache_for(response, st.service.max_age(slos, when))
    return group_summary(team, statuses)
