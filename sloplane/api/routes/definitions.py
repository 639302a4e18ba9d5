"""``/slos/{id}/definition``: what an SLO is made of, for people reading it (the console).

The queries sloplane reads for it, the file it was loaded from, and the names of what
``sloplane generate`` makes of it (recorded series and alerts), so a reader can go from a
number on a page to the rule and the line that produced it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from sloplane.api.errors import NOT_FOUND, READ_ERRORS
from sloplane.api.state import V1, Reader, StateDep, find_slo
from sloplane.slo import naming, queries

router = APIRouter(prefix=V1, tags=["slos"], dependencies=[Reader])


class SLODefinition(BaseModel):
    id: str
    source_file: str | None = Field(description="File the SLO was loaded from")
    source_line: int | None
    source_format: str = Field(description="python, sloplane/v1, sloth, openslo, ...")
    sli: dict[str, Any] = Field(description="The SLI as defined")
    group_by: list[str]
    error_ratio_query: str = Field(
        description="PromQL of the error ratio over the SLO window from the source queries"
    )
    recorded_series: list[str] = Field(
        description="Recorded error-ratio series sloplane's rules write for this SLO"
    )
    alert_names: list[str] = Field(description="Alerts sloplane's rules define (page, ticket)")


@router.get(
    "/slos/{slo_id}/definition",
    response_model=SLODefinition,
    responses={**READ_ERRORS, **NOT_FOUND},
)
def slo_definition(st: StateDep, slo_id: Annotated[str, Path(max_length=300)]) -> SLODefinition:
    """The SLO's queries, source file and generated rule names."""
    slo = find_slo(st, slo_id)
    selector = queries.selector(slo)
    severities = [s for s in ("page", "ticket") if slo.burn_windows(s)]
    return SLODefinition(
        id=slo.id,
        source_file=slo.source.file or None,
        source_line=slo.source.line,
        source_format=slo.source.format,
        sli=slo.sli.model_dump(mode="json", exclude_none=True),
        group_by=list(slo.group_by),
        error_ratio_query=queries.source_ratio(slo, slo.window),
        recorded_series=[
            f"{naming.ratio_metric(w)}{selector}" for w in naming.recorded_windows(slo)
        ],
        alert_names=[slo.alert_name(s) for s in severities],  # type: ignore[arg-type]
    )


__all__ = ["SLODefinition", "router"]
