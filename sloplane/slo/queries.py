"""PromQL that reads an SLO's error ratio back: recorded series first, source queries as fallback.

The API and the weekly reports send these; both import them from here (not from each
other). Pure functions only. Every expression yields the *error ratio* of one SLO (or, ``by_group``, of each of its groups)
over a window, so status, history and reports share one definition of "SLI", and every
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


COVERAGE_LABEL = "sloplane_coverage"
"""Set (to the window) on the coverage samples a status query returns beside the ratios."""

COMPLETE_COVERAGE = 0.99
"""Recorded long windows are trusted from this share of the window on; below it, the source
queries answer for the whole window (the rules' own history gate uses the same share)."""


def selector(slo: SLO) -> str:
    return LABELS.selector(slo)


def _agg(slo: SLO, func: str, by_group: bool) -> str:
    """``max`` (the worst group) or ``max by (group labels)`` (every group)."""
    if by_group and slo.group_by:
        return f"{func} by ({', '.join(slo.group_by)}) "
    return func


def recorded_ratio(slo: SLO, window: int, by_group: bool = False, sel: str | None = None) -> str:
    """Error ratio over ``window`` from the series sloplane's rules record.

    A recorded window is read as recorded; any other window (a report's week) is the
    rules' own expression for it: total errors over total events from the recorded 5m
    rates for every SLI kind, never an average of 5m ratios. ``sel`` replaces the SLO's
    selector for a recorded window (a dashboard adds its variables' matchers).
    """
    agg = _agg(slo, "max", by_group)
    if window in naming.recorded_windows(slo):
        return f"{agg}({naming.ratio_metric(window)}{sel or selector(slo)})"
    return f"{agg}({window_ratio(slo, window, LABELS)})"


def source_ratio(slo: SLO, window: int, by_group: bool = False) -> str:
    """Error ratio over ``window`` straight from the SLI's source queries (no rules needed).

    The expression is the one the rules record for short windows
    (:meth:`~sloplane.slo.rules.sli.SliQueries.ratio`), so the fallback reads the same
    events the rules do (e.g. every spelling of a latency bucket's ``le``).
    """
    return f"{_agg(slo, 'max', by_group)}({SliQueries(slo.sli, slo.group_by).ratio(window)})"


def ratio(slo: SLO, window: int, source: Source, by_group: bool = False) -> str:
    if source == "recording_rules":
        return recorded_ratio(slo, window, by_group)
    return source_ratio(slo, window, by_group)


def coverage_windows(slo: SLO, windows: tuple[int, ...]) -> tuple[int, ...]:
    """The windows among ``windows`` whose recorded ratio depends on recorded history (the
    roll-up tier's composed windows), i.e. whose coverage is recorded."""
    return tuple(w for w in windows if naming.composed(w) and w in naming.recorded_windows(slo))


def coverage(slo: SLO, windows: tuple[int, ...], by_group: bool = False) -> str | None:
    """The share of each composed window the recorded series cover, labelled
    ``sloplane_coverage`` (the least covered group's share, or per group); None when no
    window of ``windows`` is composed."""
    parts = [
        f"label_replace({_agg(slo, 'min', by_group)}({naming.coverage_metric(w)}{selector(slo)}), "
        f'"{COVERAGE_LABEL}", "{format_duration(w)}", "", "")'
        for w in coverage_windows(slo, windows)
    ]
    return " or ".join(parts) or None


def covered_ratio(slo: SLO, window: int, sel: str | None = None) -> str:
    """The API's choice of source as one expression: each group's error ratio over ``window``.

    The API reads a composed window's coverage first, then the recorded ratio when it is
    there and trusted (:func:`trusted`: the least covered group covers
    :data:`COMPLETE_COVERAGE` of the window, or no coverage is recorded), else the source
    queries over the whole window. A dashboard panel cannot ask twice, so this states the
    same rule in PromQL: the recorded ratio unless the coverage is short, or else (nothing
    trusted is recorded at this instant: rules loaded recently, or an instant before
    them) the source ratio. Both sides are the API's own :func:`recorded_ratio` and
    :func:`source_ratio`, so a panel and the API show one number at one instant. ``sel``
    (a dashboard's selector with its variables) restricts the recorded side; the source
    queries know nothing of sloplane's labels, so the source side shows every group.

    PromQL evaluates both sides of ``or``, so every evaluation pays for the source queries
    over the whole window, covered or not: meant for instant queries (a stat, a gauge),
    not for a graph's range query.
    """
    sel = sel or selector(slo)
    trusted_recorded = recorded_ratio(slo, window, True, sel)
    if window in coverage_windows(slo, (window,)):
        coverage = f"{naming.coverage_metric(window)}{sel}"
        short = f"(min({coverage}) < {COMPLETE_COVERAGE!r})"
        trusted_recorded = f"(\n{trusted_recorded}\nunless on () {short}\n)"
    return (
        f"{trusted_recorded}\nor\n"
        f"(\n(\n{source_ratio(slo, window, True)}\n)\nunless on () {trusted_recorded}\n)"
    )


def trusted(coverage_ratio: float | None) -> bool:
    """Whether a recorded long window may be shown: its coverage is complete enough, or not
    recorded at all (rules from before the coverage series: nothing to say otherwise)."""
    return coverage_ratio is None or coverage_ratio >= COMPLETE_COVERAGE


def multi_window(slo: SLO, windows: tuple[int, ...], source: Source, by_group: bool = False) -> str:
    """One query returning the error ratio for every window, labelled ``sloplane_window``.

    Sending one query per SLO (instead of one per window) is what keeps the load on
    the backend at one query per SLO per cache period.
    """
    parts = [
        f'label_replace({ratio(slo, w, source, by_group)}, "{WINDOW_LABEL}", '
        f'"{format_duration(w)}", "", "")'
        for w in windows
    ]
    return " or ".join(parts)


def firing_alerts(slo: SLO) -> str:
    return f'ALERTS{{alertstate="firing", {LABELS.id}="{naming.escape_label_value(slo.id)}"}}'


def clean(value: float) -> float | None:
    """NaN/Inf (no traffic: 0/0) mean "no data", not a number to show."""
    return value if math.isfinite(value) else None
