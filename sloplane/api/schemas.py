"""Response documents of the API (and the JSON form of reports' building blocks).

These are the public contract: field names are stable across v1 and documented in
the OpenAPI spec, so clients may rely on them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from sloplane.slo.facts import SLOFacts, SLOIdentity
from sloplane.slo.queries import Source as DataSource
from sloplane.times import SpanTimes, rfc3339

Status = Literal["ok", "at_risk", "breached", "insufficient_data", "no_data"]
ListedStatus = Literal["ok", "at_risk", "breached", "insufficient_data", "no_data", "unknown"]
"""A status in the SLO list: ``unknown`` when the backend could not be asked (the list is
an inventory and answers anyway; ``status_cause`` says why)."""


class SLOSummary(SLOIdentity):
    # Every field of SLOFacts, but the description has always come before the objective
    # and window, and pydantic lays out inherited fields first: so only the identity is
    # inherited, and the target fields are declared (and documented) here.
    description: str
    objective: float = Field(description="Target as a ratio, e.g. 0.999")
    window: str = Field(description="SLO window as a Prometheus duration, e.g. 30d")
    window_seconds: int
    labels: dict[str, str]
    runbook_url: str | None
    status: ListedStatus | None = Field(
        default=None,
        description="The status now (or at the time asked for) in a list; absent from a "
        "single SLO's definition (its /status has it); unknown when the backend failed",
    )
    status_cause: str | None = Field(
        default=None,
        description="Why the status is unknown: the backend and its failure (else absent)",
    )


class ErrorBudget(BaseModel):
    total_ratio: float = Field(description="Allowed error ratio over the window (1 - objective)")
    total_minutes: float = Field(description="The budget as minutes of full outage per window")
    consumed_ratio: float | None = Field(description="Share of the budget used (may exceed 1)")
    consumed_minutes: float | None
    remaining_ratio: float | None = Field(description="1 - consumed_ratio (negative when breached)")
    remaining_minutes: float | None


class BurnRate(BaseModel):
    severity: Literal["page", "ticket"]
    long_window: str
    short_window: str
    threshold: float = Field(description="Burn-rate factor above which the alert condition holds")
    long_burn_rate: float | None
    short_burn_rate: float | None
    burning: bool = Field(description="Both windows above the threshold: the alert condition")


class FiringAlert(BaseModel):
    alertname: str
    severity: str
    labels: dict[str, str]


class WindowReading(BaseModel):
    """Where one window's number came from and how much of the window the recorded series
    cover, so an answer never mixes sources or freshness without saying so."""

    window: str
    source: DataSource
    coverage_ratio: float | None = Field(
        description="Share of the window the recorded series cover (composed windows, 6h and "
        "up); null when not recorded (short windows read the source counters directly)"
    )


class SLOStatus(SLOFacts):
    sli: float | None = Field(description="Good ratio over the SLO window (1 - error ratio)")
    error_ratio: float | None
    error_budget: ErrorBudget
    current_burn_rate: float | None = Field(description="Burn rate over the last 5 minutes")
    burn_rates: list[BurnRate]
    firing_alerts: list[FiringAlert]
    status: Status
    source: DataSource = Field(
        description="recording_rules when sloplane's recorded series answered, else source_query"
    )
    evaluated_at: float = Field(description="Unix time the values refer to")
    windows: list[WindowReading] = Field(
        default_factory=list, description="Per window: the source used and the coverage"
    )
    covered_seconds: float | None = Field(
        default=None,
        description="Seconds of the SLO window the recorded series cover (null: not recorded)",
    )
    group: dict[str, str] | None = Field(
        default=None,
        description="For group_by SLOs: the group these numbers are for (in an SLO's status, "
        "the worst group: breached before at risk before ok, then the least budget left)",
    )
    groups: int | None = Field(default=None, description="For group_by SLOs: groups seen")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def evaluated_at_rfc3339(self) -> str | None:
        """``evaluated_at`` as an RFC 3339 time in UTC."""
        return rfc3339(self.evaluated_at)


class HistoryPoint(BaseModel):
    t: float
    sli: float | None
    budget_remaining_ratio: float | None
    burn_rate: float | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def t_rfc3339(self) -> str | None:
        """``t`` as an RFC 3339 time in UTC."""
        return rfc3339(self.t)


class SLOHistory(SpanTimes):
    id: str
    start: float
    end: float
    step: float
    burn_rate_window: str
    source: DataSource
    coverage_ratio_at_start: float | None = Field(
        default=None,
        description="Share of the SLO window the recorded series covered at ``start``; below "
        "0.99 the whole history is read from the source queries (null: not recorded)",
    )
    group: dict[str, str] | None = Field(
        default=None,
        description="The group asked for (?group=label=value); null: for group_by SLOs each "
        "point and window is the worst group's at that point",
    )
    points: list[HistoryPoint]


class FiringInterval(SpanTimes):
    """One alert firing over ``[start, end)``, each end exact to within the answer's step."""

    alertname: str
    severity: str
    start: float = Field(description="First evaluation seen firing (the range's start at most)")
    end: float = Field(
        description="First evaluation after ``start`` not seen firing (exclusive), or the "
        "range's end while still firing"
    )
    ongoing: bool = Field(description="Still firing at the range's end")
    duration_seconds: float


class AlertHistory(SpanTimes):
    """When an SLO's alerts fired over a range, from Prometheus' ``ALERTS`` series."""

    id: str
    start: float
    end: float
    step: float = Field(
        description="Seconds between the evaluations read: every interval's start and end "
        "is exact to within one step"
    )
    query: str = Field(description="The PromQL range query the intervals come from")
    intervals: list[FiringInterval] = Field(description="Oldest first")


class GroupSummary(BaseModel):
    key: str = Field(description="The service or team name")
    slos: int
    ok: int
    at_risk: int
    breached: int
    insufficient_data: int = 0
    no_data: int
    worst_budget_remaining_ratio: float | None
    statuses: list[SLOStatus]


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: the body of every error answer.

    Not :class:`sloplane.errors.Problem`, which locates a mistake in the user's input files.
    """

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    backend: str | None = None
    cause: str | None = None
    field: str | None = None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}


class TokenCreate(BaseModel):
    # a misspelled field ("scope") must not silently create a token with the default scopes
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    scopes: list[Literal["read", "admin"]] = Field(default=["read"], min_length=1, max_length=2)


class TokenInfo(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def created_at_rfc3339(self) -> str | None:
        """``created_at`` as an RFC 3339 time in UTC."""
        return rfc3339(self.created_at)


class TokenCreated(TokenInfo):
    token: str = Field(description="Shown once; only its hash is stored")
