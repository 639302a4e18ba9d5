"""The weekly report as data: what every format (HTML, Markdown, JSON, Slack) renders."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from sloplane.slo.facts import SLOFacts
from sloplane.slo.queries import Source as DataSource

Trend = Literal["better", "worse", "same", "unknown"]


class DayResult(BaseModel):
    date: str
    sli: float | None
    met: bool | None


class Incident(BaseModel):
    alertname: str
    severity: str
    start: float
    end: float
    duration_seconds: float


class BurnPoint(BaseModel):
    t: float
    budget_remaining_ratio: float | None


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


class Report(BaseModel):
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


class ReportRun(BaseModel):
    """One run of the report job: scheduled, caught up after a restart, or asked for."""

    id: int
    scope: str
    week: str
    status: str
    started_at: float
    finished_at: float | None
    error: str | None
