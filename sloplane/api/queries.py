"""PromQL the API and reports send: recorded series first, SLI source queries as fallback.

Pure functions only. Every expression yields the *error ratio* of one SLO over a
window, so status, history and reports share one definition of "SLI". When an
SLO has ``group_by`` labels the worst group is taken (``max``): an SLO is only as
good as its worst-served group.
"""

from __future__ import annotations

from typing import Literal

from sloplane.slo import naming, promql
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO, AvailabilitySLI, EventsSLI, LatencySLI, RawSLI

Source = Literal["recording_rules", "source_query"]
WINDOW_LABEL = "sloplane_window"
LABELS = naming.Labels()


def window_query(query: str, window: int, group_by: tuple[str, ...] = ()) -> str:
    """Turn an SLI source query into a windowed rate (``sum by (g) (rate(q[W]))``)."""
    return promql.window_query(query, format_duration(window), group_by)


def selector(slo: SLO) -> str:
    return LABELS.selector(slo)


def recorded_ratio(slo: SLO, window: int) -> str:
    """Error ratio over ``window`` from the series sloplane's rules record."""
    sel = selector(slo)
    if window in naming.recorded_windows(slo):
        return f"max({naming.ratio_metric(window)}{sel})"
    w = format_duration(window)
    if isinstance(slo.sli, EventsSLI | LatencySLI):
        # total errors over total events, exactly as the rules do for long windows
        by = _by(slo)
        return (
            f"max(sum{by} (sum_over_time({naming.ERRORS_RATE}{sel}[{w}]))"
            f" / sum{by} (sum_over_time({naming.TOTAL_RATE}{sel}[{w}])))"
        )
    return f"max(avg_over_time({naming.ratio_metric(naming.BASE_WINDOW)}{sel}[{w}]))"


def source_ratio(slo: SLO, window: int) -> str:
    """Error ratio over ``window`` straight from the SLI's source queries (no rules needed)."""
    sli, g = slo.sli, slo.group_by
    w = format_duration(window)
    if isinstance(sli, EventsSLI):
        total = window_query(sli.total, window, g)
        if sli.errors is not None:
            expr = f"({window_query(sli.errors, window, g)}) / ({total})"
        else:
            assert sli.good is not None
            expr = f"1 - (({window_query(sli.good, window, g)}) / ({total}))"
    elif isinstance(sli, LatencySLI):
        expr = _latency_ratio(sli, window, g)
    elif isinstance(sli, RawSLI):
        expr = promql.render_template(sli.error_ratio, w)
    else:
        assert isinstance(sli, AvailabilitySLI)
        by = _by(slo)
        expr = f"1 - avg{by} (avg_over_time({sli.gauge}[{w}]))"
    return f"max({expr})"


def _latency_ratio(sli: LatencySLI, window: int, group_by: tuple[str, ...]) -> str:
    w = format_duration(window)
    sel = sli.selector
    if sli.native:
        by = f" by ({', '.join(group_by)})" if group_by else ""
        sel_braces = "{" + sel + "}" if sel else ""
        return (
            f"1 - sum{by} (histogram_fraction(0, {sli.threshold}, "
            f"rate({sli.metric}{sel_braces}[{w}])))"
        )
    le = f'le="{sli.threshold}"'
    bucket = f"{sli.metric}_bucket{{{sel + ', ' if sel else ''}{le}}}"
    count = f"{sli.metric}_count{{{sel}}}" if sel else f"{sli.metric}_count"
    fast = window_query(bucket, window, group_by)
    total = window_query(count, window, group_by)
    return f"1 - (({fast}) / ({total}))"


def ratio(slo: SLO, window: int, source: Source) -> str:
    return recorded_ratio(slo, window) if source == "recording_rules" else source_ratio(slo, window)


def multi_window(slo: SLO, windows: tuple[int, ...], source: Source) -> str:
    """One query returning the error ratio for every window, labelled ``sloplane_window``.

    Sending one query per SLO (instead of one per window) is what keeps the load on
    the backend at one query per SLO per cache period.
    """
    parts = [
        f'label_replace({ratio(slo, w, source)}, "{WINDOW_LABEL}", "{format_duration(w)}", "", "")'
        for w in windows
    ]
    return " or ".join(parts)


def firing_alerts(slo: SLO) -> str:
    return f'ALERTS{{alertstate="firing", {LABELS.id}="{naming.escape_label_value(slo.id)}"}}'


def has_recorded(slo: SLO) -> str:
    """Cheap probe: is the SLO's window ratio recorded at all?"""
    return f"count({naming.ratio_metric(slo.window)}{selector(slo)})"


def _by(slo: SLO) -> str:
    return f" by ({', '.join(slo.group_by)})" if slo.group_by else ""
