"""PromQL that reads an SLO's error ratio back: recorded series first, source queries as fallback.

The API and the weekly reports send these; both import them from here (not from each
other). Pure functions only. Every expression yields the *error ratio* of one SLO over
a window, so status, history and reports share one definition of "SLI", and every
expression is the rule compiler's own (:mod:`sloplane.slo.rules.sli`), so the numbers
they show cannot disagree with the recorded series or the alerts. When an SLO has
``group_by`` labels the worst group is taken (``max``): an SLO is only as good as its
worst-served group.
"""

from __future__ import annotations

import math
from typing import Literal

from sloplane.slo import naming
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO
from sloplane.slo.rules.sli import SliQueries, window_ratio

Source = Literal["recording_rules", "source_query"]
"""Where a number came from: sloplane's recorded series, or the SLI's source queries."""

WINDOW_LABEL = "sloplane_window"
LABELS = naming.Labels()


def selector(slo: SLO) -> str:
    return LABELS.selector(slo)


def recorded_ratio(slo: SLO, window: int) -> str:
    """Error ratio over ``window`` from the series sloplane's rules record.

    A recorded window is read as recorded; any other window (a report's week) is the
    rules' own expression for it: total errors over total events from the recorded 5m
    rates for every SLI kind, never an average of 5m ratios.
    """
    if window in naming.recorded_windows(slo):
        return f"max({naming.ratio_metric(window)}{selector(slo)})"
    return f"max({window_ratio(slo, window, LABELS)})"


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


def clean(value: float) -> float | None:
    """NaN/Inf (no traffic: 0/0) mean "no data", not a number to show."""
    return value if math.isfinite(value) else None
