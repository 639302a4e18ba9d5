"""SLO status from measured error ratios: the pure arithmetic behind the API.

The backend returns error ratios per window; everything else (SLI, budget in
ratio and minutes, burn rates, status) is derived here from the SLO model, so
the API and the reports can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sloplane.api.schemas import (
    BurnRate,
    DataSource,
    ErrorBudget,
    FiringAlert,
    SLOStatus,
    Status,
)
from sloplane.slo import naming
from sloplane.slo.durations import format_duration
from sloplane.slo.facts import SLOFacts
from sloplane.slo.model import SLO

AT_RISK_REMAINING = 0.25  # under a quarter of the budget left is worth a look


def status_windows(slo: SLO) -> tuple[int, ...]:
    """Windows the status needs: the SLO window, 5m and every alert window."""
    return naming.recorded_windows(slo)


def error_budget(slo: SLO, ratio: float | None) -> ErrorBudget:
    consumed = slo.burn_rate(ratio)
    remaining = slo.budget_remaining(ratio)
    return ErrorBudget(
        total_ratio=slo.error_budget,
        total_minutes=slo.budget_minutes,
        consumed_ratio=consumed,
        consumed_minutes=None if consumed is None else consumed * slo.budget_minutes,
        remaining_ratio=remaining,
        remaining_minutes=None if remaining is None else remaining * slo.budget_minutes,
    )


def compute_status(
    slo: SLO,
    ratios: Mapping[int, float | None],
    alerts: Sequence[FiringAlert],
    source: DataSource,
    evaluated_at: float,
) -> SLOStatus:
    window_ratio = ratios.get(slo.window)
    budget = error_budget(slo, window_ratio)
    rates = [
        BurnRate(
            severity=w.severity,
            long_window=format_duration(w.long),
            short_window=format_duration(w.short),
            threshold=w.factor,
            long_burn_rate=slo.burn_rate(ratios.get(w.long)),
            short_burn_rate=slo.burn_rate(ratios.get(w.short)),
            burning=_above(slo.burn_rate(ratios.get(w.long)), w.factor)
            and _above(slo.burn_rate(ratios.get(w.short)), w.factor),
        )
        for w in slo.all_burn_windows()
    ]
    return SLOStatus(
        **SLOFacts.fields_from(slo),
        sli=None if window_ratio is None else 1 - window_ratio,
        error_ratio=window_ratio,
        error_budget=budget,
        current_burn_rate=slo.burn_rate(ratios.get(naming.BASE_WINDOW)),
        burn_rates=rates,
        firing_alerts=list(alerts),
        status=status_of(budget.remaining_ratio, rates, alerts),
        source=source,
        evaluated_at=evaluated_at,
    )


def status_of(
    remaining: float | None, rates: Sequence[BurnRate], alerts: Sequence[FiringAlert]
) -> Status:
    if remaining is None:
        return "no_data"
    if remaining < 0:
        return "breached"
    if alerts or any(r.burning for r in rates) or remaining < AT_RISK_REMAINING:
        return "at_risk"
    return "ok"


def _above(value: float | None, threshold: float) -> bool:
    return value is not None and value > threshold


def alerts_from_labels(label_sets: Sequence[Mapping[str, str]]) -> list[FiringAlert]:
    alerts = [
        FiringAlert(
            alertname=labels.get("alertname", ""),
            severity=labels.get("severity", ""),
            labels={k: v for k, v in sorted(labels.items()) if k != "__name__"},
        )
        for labels in label_sets
    ]
    return sorted(alerts, key=lambda a: (a.severity, a.alertname, sorted(a.labels.items())))
