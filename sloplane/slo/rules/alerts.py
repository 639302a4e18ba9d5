"""Multi-window, multi-burn-rate alerting rules, one per enabled tier.

An alert fires when the burn rate is above the tier's factor over both the long
and the short window of any of its window pairs. The expression's value is the
short-window burn rate, so ``$value`` in annotations is "how many times too fast
the budget burns right now". Zero traffic yields no ratio sample (the recordings
divide by ``total > 0``), so quiet periods never page; a separate optional no-data
alert covers missing series.
"""

from __future__ import annotations

from sloplane.slo.burn import SEVERITIES, BurnRateWindow, Severity
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO
from sloplane.slo.naming import (
    PERIOD_BUDGET_REMAINING,
    TOTAL_RATE,
    Labels,
    composed,
    coverage_metric,
    dashboard_uid,
    ratio_metric,
)
from sloplane.slo.promql import num
from sloplane.slo.rules.common import Rule


def alert_rules(
    slo: SLO, labels: Labels, grafana_url: str, severities: tuple[Severity, ...] = SEVERITIES
) -> list[Rule]:
    """The burn-rate alerts of the given tiers (and the no-data alert with the page tier)."""
    rules = []
    for severity in severities:
        windows = slo.burn_windows(severity)
        if windows:
            rules.append(_burn_alert(slo, labels, severity, windows, grafana_url))
    if slo.alerting.no_data.enabled and "page" in severities:
        rules.append(_no_data_alert(slo, labels, grafana_url))
    return rules


def burn_expr(slo: SLO, labels: Labels, windows: tuple[BurnRateWindow, ...]) -> str:
    sel = labels.selector(slo)
    budget = num(slo.error_budget)
    pairs = []
    for w in windows:
        short = _above(f"{ratio_metric(w.short)}{sel} / {budget} > {num(w.factor)}", labels)
        long = _above(f"{ratio_metric(w.long)}{sel} / {budget} > {num(w.factor)}", labels)
        pairs.append(f"(\n  {short}\n  and\n  {long}\n)")
    return "\nor\n".join(pairs)


def _above(comparison: str, labels: Labels) -> str:
    if labels.window:  # drop sloth_window so the windows of a pair match, as Sloth does
        return f"max without ({labels.window}) ({comparison})"
    return f"({comparison})"


def threshold_text(windows: tuple[BurnRateWindow, ...]) -> str:
    return "; ".join(
        f"{num(w.factor)}x over {format_duration(w.long)} and {format_duration(w.short)}"
        for w in windows
    )


def alert_labels(slo: SLO, labels: Labels, severity: Severity) -> dict[str, str]:
    """Labels the rule adds to the alert (the series already carry identity and SLO labels).

    What the author wrote wins over what sloplane derives: an explicit ``team`` beats the
    one taken from an ``owner`` label, and an explicit ``severity`` (``critical``,
    ``pageteam``) is kept. Our tier is always in ``<mode>_severity`` (``sloplane_severity``
    or Sloth's ``sloth_severity``), which routing and inhibition read; ``severity`` is
    page/ticket only when the author set none.
    """
    tier = slo.alerting.page if severity == "page" else slo.alerting.ticket
    derived: dict[str, str] = {"severity": severity}
    if slo.team:
        derived["team"] = slo.team
    return {**derived, **slo.alerting.labels, **tier.labels, labels.severity: severity}


def title_text(severity: Severity, labels: Labels) -> str:
    """Sloth's default ``title`` annotation, so its users' notification templates keep working."""
    return (
        f"({severity}) {{{{$labels.{labels.service}}}}} {{{{$labels.{labels.slo}}}}} "
        "SLO error budget burn rate is too fast."
    )


def _budget_remaining_template(slo: SLO, labels: Labels) -> str:
    """Live budget left over the SLO window, read when the alert fires (Prometheus `query`).

    The same rule as the API's: the period series while the rules trust the recorded
    history; when they do not (rules loaded recently, no ``sloplane backfill``), the SLI's
    source queries over the whole window (the API's own :func:`.queries.source_ratio`,
    worst group), saying how much of the window is recorded; with no source answer either,
    the recorded share alone, never a budget from part of the window. The source query
    runs only in that case and only while the alert is active (at every evaluation).
    """
    sel = labels.selector(slo)
    budget = _quoted(f"min({PERIOD_BUDGET_REMAINING}{sel})")
    text = f'{{{{ with query "{budget}" }}}}{{{{ . | first | value | humanizePercentage }}}}'
    if composed(slo.window):
        from sloplane.slo.queries import source_ratio  # queries imports this package

        source = _quoted(f"1 - ({source_ratio(slo, slo.window)}) / {num(slo.error_budget)}")
        coverage = _quoted(f"min({coverage_metric(slo.window)}{sel})")
        recorded = (
            f'{{{{ with query "{coverage}" }}}}{{{{ . | first | value | humanizePercentage }}}}'
            "{{ else }}none{{ end }}"
        )
        text += (
            f'{{{{ else }}}}{{{{ with query "{source}" }}}}'
            "{{ . | first | value | humanizePercentage }} (from the source queries: "
            f"{recorded} of {slo.window_text} recorded)"
            f'{{{{ else }}}}{{{{ with query "{coverage}" }}}}insufficient history: '
            f"{{{{ . | first | value | humanizePercentage }}}} of {slo.window_text} recorded"
            "{{ else }}unknown{{ end }}{{ end }}{{ end }}"
        )
        return text
    return text + "{{ else }}unknown{{ end }}"


def _quoted(expr: str) -> str:
    """``expr`` as a Go template string literal: one line, backslashes and quotes escaped."""
    return expr.replace("\n", " ").replace("\\", "\\\\").replace('"', '\\"')


def alert_annotations(
    slo: SLO,
    severity: Severity,
    windows: tuple[BurnRateWindow, ...],
    grafana_url: str,
    labels: Labels,
) -> dict[str, str]:
    tier = slo.alerting.page if severity == "page" else slo.alerting.ticket
    what = slo.description or f"{slo.name} of {slo.service}"
    out = {
        "title": title_text(severity, labels),
        "summary": f'{slo.id}: error budget burning {{{{ printf "%.2f" $value }}}}x too fast ({severity})',
        "description": (
            f"SLO {slo.id} ({what}) targets {num(slo.objective_percent)}% over {slo.window_text}. "
            f"At this rate the {severity}-level share of the error budget is gone "
            f"({threshold_text(windows)})."
        ),
        "objective": f"{num(slo.objective_percent)}%",
        "window": slo.window_text,
        "burn_rate": '{{ printf "%.2f" $value }}',
        "budget_remaining": _budget_remaining_template(slo, labels),
        "burn_rate_threshold": threshold_text(windows),
        "dashboard_url": slo.dashboard_url
        or f"{grafana_url.rstrip('/')}/d/{dashboard_uid(slo.service)}",
    }
    if slo.runbook_url:
        out["runbook_url"] = slo.runbook_url
    return {**out, **slo.alerting.annotations, **tier.annotations}


def _burn_alert(
    slo: SLO,
    labels: Labels,
    severity: Severity,
    windows: tuple[BurnRateWindow, ...],
    grafana_url: str,
) -> Rule:
    return Rule(
        alert=slo.alert_name(severity),
        expr=burn_expr(slo, labels, windows),
        labels=alert_labels(slo, labels, severity),
        annotations=alert_annotations(slo, severity, windows, grafana_url, labels),
    )


def _no_data_alert(slo: SLO, labels: Labels, grafana_url: str) -> Rule:
    nd = slo.alerting.no_data
    rule_labels = {
        **slo.labels,
        **labels.identity(slo),
        "severity": nd.severity,
        labels.severity: nd.severity,
    }
    if slo.team:
        rule_labels["team"] = slo.team
    return Rule(
        alert=f"{_camel_id(slo)}SLINoData",
        expr=f"absent({TOTAL_RATE}{labels.selector(slo)})",
        for_=format_duration(nd.for_),
        labels=rule_labels,
        annotations={
            "summary": f"{slo.id}: no SLI data",
            "description": (
                f"The SLI of {slo.id} has had no total-events series for {format_duration(nd.for_)}: "
                "the scrape, the exporter or the metric name is broken, and burn-rate alerts cannot fire."
            ),
            "dashboard_url": slo.dashboard_url
            or f"{grafana_url.rstrip('/')}/d/{dashboard_uid(slo.service)}",
        },
    )


def _camel_id(slo: SLO) -> str:
    return "".join(
        p[:1].upper() + p[1:] for p in slo.id.replace("_", "-").replace(".", "-").split("-") if p
    )
