"""The weekly report as data: what every format (HTML, Markdown, JSON, Slack) renders."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

from sloplane.slo.facts import SLOFacts
from sloplane.slo.queries import Source as DataSource
from sloplane.times import SpanTimes, rfc3339

Trend = Literal["better", "worse", "same", "unknown"]


class DayResult(BaseModel):
    date: str
    sli: float | None
    met: bool | None


class GroupWeek(BaseModel):
    """One group of a ``group_by`` SLO that missed the objective over the week."""

    group: dict[str, str]
    week_sli: float | None
    window_sli: float | None
    budget_remaining_ratio: float | None


class Incident(SpanTimes):
    alertname: str
    severity: str
    start: float
    end: float
    duration_seconds: float


class BurnPoint(BaseModel):
    t: float
    budget_remaining_ratio: float | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def t_rfc3339(self) -> str | None:
        """``t`` as an RFC 3339 time in UTC."""
        return rfc3339(self.t)


class SLOWeek(SLOFacts):
    week_sli: float | None
    week_met: bool | None
    window_sli: float | None
    window_met: bool | None
    budget_consumed_week_ratio: float | None
    budget_consumed_week_minutes: float | None
    budget_remaining_ratio: float | None
    budget_remaining_minutes: float | None
    worst_day: DayResult | None
    days: list[DayResult]
    incidents: list[Incident]
    previous_week_sli: float | None
    previous_budget_consumed_ratio: float | None
    trend: Trend
    burn_down: list[BurnPoint]
    source: DataSource
    window_coverage_ratio: float | None = Field(
        default=None,
        description="Share of the SLO window the recorded series cover at the week's end "
        "(null: not recorded); under 0.99 every number is read from the source queries",
    )
    failing_groups: list[GroupWeek] = Field(
        default_factory=list,
        description="group_by SLOs: every group under the objective over the week, worst first",
    )
    source_query_windows: list[str] = Field(
        default_factory=list,
        description="Windows (week, day) read from the source queries although ``source`` "
        "is recording_rules, because the recorded series could not answer them",
    )


class Report(SpanTimes):
    scope: str
    week: str
    timezone: str
    start: float
    end: float
    slos: list[SLOWeek]

    @property
    def met(self) -> list[SLOWeek]:
        return [s for s in self.slos if s.week_met is True]

    @property
    def no_data(self) -> list[SLOWeek]:
        return [s for s in self.slos if s.week_met is None]

    @property
    def missed(self) -> list[SLOWeek]:
        return [s for s in self.slos if s.week_met is False]

    @property
    def at_risk(self) -> list[SLOWeek]:
        return [
            s
            for s in self.slos
            if s.budget_remaining_ratio is not None and s.budget_remaining_ratio < 0.25
        ]


class ReportInfo(BaseModel):
    """A stored report: its scope and week, when it was made, and the formats it has."""

    scope: str
    week: str
    created_at: float
    formats: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def created_at_rfc3339(self) -> str | None:
        """``created_at`` as an RFC 3339 time in UTC."""
        return rfc3339(self.created_at)


class ReportRun(BaseModel):
    """One run of the report job: scheduled, caught up after a restart, or asked for."""

    id: int
    scope: str
    week: str
    status: str
    started_at: float
    finished_at: float | None
    error: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def started_at_rfc3339(self) -> str | None:
        """``started_at`` as an RFC 3339 time in UTC."""
        return rfc3339(self.started_at)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def finished_at_rfc3339(self) -> str | None:
        """``finished_at`` as an RFC 3339 time in UTC."""
        return rfc3339(self.finished_at)
