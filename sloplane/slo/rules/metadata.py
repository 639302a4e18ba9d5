"""Metadata recordings: objective, budget, period, burn rates and an info series.

Constants are recorded once per SLO so that dashboards and the API can join on
the SLO's labels instead of hard-coding objectives.
"""

from __future__ import annotations

from sloplane.slo.model import SLO
from sloplane.slo.naming import (
    BASE_WINDOW,
    CURRENT_BURN_RATE,
    ERROR_BUDGET,
    INFO,
    OBJECTIVE,
    PERIOD_BUDGET_REMAINING,
    PERIOD_BURN_RATE,
    SLOTH_INFO,
    TIME_PERIOD_DAYS,
    Labels,
    composed,
    ratio_metric,
)
from sloplane.slo.promql import num
from sloplane.slo.rules.common import Rule
from sloplane.slo.rules.rollup import history_gate


def metadata_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """The constants and the info series, then the current burn rate."""
    return [*constant_rules(slo, labels), current_burn_rule(slo, labels)]


def constant_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """Objective, budget, period and info series: constants, so they may live in a slow group.

    Every rule evaluation costs Prometheus a fixed amount of CPU whatever it computes, so
    :func:`.render.slo_groups` puts these in the ``-long`` group (every 4m, inside the 5m
    lookback) when the SLO has one, instead of re-recording them every minute.
    """
    series_labels = {**slo.labels, **labels.identity(slo)}
    budget = num(slo.error_budget)
    info_labels = {
        **slo.info_labels,
        **series_labels,
        "objective": num(slo.objective),
        "window": slo.window_text,
        "sli_kind": slo.sli.kind,
        "team": slo.team or "",
    }
    return [
        Rule(record=OBJECTIVE, expr=f"vector({num(slo.objective)})", labels=series_labels),
        Rule(record=ERROR_BUDGET, expr=f"vector({budget})", labels=series_labels),
        Rule(
            record=TIME_PERIOD_DAYS, expr=f"vector({num(slo.window / 86400)})", labels=series_labels
        ),
        Rule(
            record=INFO, expr="vector(1)", labels={k: v for k, v in info_labels.items() if v != ""}
        ),
        *_sloth_info(slo, labels),
    ]


def current_burn_rule(slo: SLO, labels: Labels) -> Rule:
    """The burn rate over the last 5 minutes (fast group: it moves every minute)."""
    return Rule(
        record=CURRENT_BURN_RATE,
        expr=f"{ratio_metric(BASE_WINDOW)}{labels.selector(slo)} / {num(slo.error_budget)}",
        labels={**slo.labels, **labels.identity(slo)},
    )


def period_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """Burn rate and budget left over the whole SLO window (beside the period ratio).

    When the window is composed from the roll-up tier, both exist only while its recorded
    history is complete (:func:`.rollup.history_gate`): twenty minutes of recorded history
    on a service with twenty days of traffic must not read as a breached budget. Their
    absence, with ``slo:sli_coverage:ratio<window>``, is the "insufficient data" answer.
    """
    series_labels = {**slo.labels, **labels.identity(slo)}
    sel = labels.selector(slo)
    burn = f"{ratio_metric(slo.window)}{sel} / {num(slo.error_budget)}"
    if composed(slo.window):
        ignoring = f" ignoring ({labels.window})" if labels.window else ""
        burn = f"(\n  {burn}\n)\nand{ignoring}\n{history_gate(slo, labels)}"
    return [
        Rule(record=PERIOD_BURN_RATE, expr=burn, labels=series_labels),
        Rule(
            record=PERIOD_BUDGET_REMAINING,
            expr=f"1 - {PERIOD_BURN_RATE}{sel}",
            labels=series_labels,
        ),
    ]


def _sloth_info(slo: SLO, labels: Labels) -> list[Rule]:
    """Sloth's own info series, for Sloth dashboards, in Sloth label mode.

    It carries what Sloth's dashboards read: the identity labels, the objective (percent),
    and how the rules were made (``sloth_mode``/``sloth_spec``): a ``PrometheusServiceLevel``
    CRD says so (``cli-gen-k8s``, ``sloth.slok.dev/v1``) as Sloth's own CLI would.
    """
    if labels.mode != "sloth":
        return []
    crd = slo.source.spec == SLOTH_CRD_SPEC
    info = {
        **slo.info_labels,
        **slo.labels,
        **labels.identity(slo),
        "sloth_mode": "cli-gen-k8s" if crd else "cli-gen-prom",
        "sloth_spec": SLOTH_CRD_SPEC if crd else "prometheus/v1",
        "sloth_objective": num(slo.objective_percent),
    }
    return [Rule(record=SLOTH_INFO, expr="vector(1)", labels=info)]


SLOTH_CRD_SPEC = "sloth.slok.dev/v1"
