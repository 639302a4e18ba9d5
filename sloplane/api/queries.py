"""PromQL the API and reports send: recorded series first, SLI source queries as fallback.

Pure functions only. Every expression yields the *error ratio* of one SLO over a
window, so status, history and reports share one definition of "SLI". When an
SLO has ``group_by`` labels the worst group is taken (``max``): an SLO is only as
good as its worst-served group.
"""

from __future__ import annotations

from typing import Literal

from sloplane.slo import naming
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO, EventsSLI, LatencySLI
from sloplane.slo.rules.sli import SliQueries

Source = Literal["recording_rules", "source_query"]
WINDOW_LABEL = "sloplane_window"
LABELS = naming.Labels()


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
    """Error ratio over ``window`` straight from the SLI's source queries (no rules needed).

    The expression is the one the rules record for short windows
    (:meth:`~sloplane.slo.rules.sli.SliQueries.ratio`), so the fallback reads the same
    events the rules do (e.g. every spelling of a latency bucket's ``le``).
    """
    return f"max({SliQueries(slo.sli, slo.group_by).ratio(window)})"


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
