"""Alert firing intervals of an SLO, from Prometheus' own ``ALERTS`` series.

Why from ``ALERTS`` and not from the burn rates: the intervals must be what the alert
rules really did (their ``for``, their evaluation, a rule not loaded at all), so an
operator can line up a page they received with the budget chart.

One ``query_range`` reads ``ALERTS{alertstate="firing", <the SLO's id label>}`` over
the range, on a grid that ends exactly at the range's end, with a step just large
enough that the range is one request under the client's point limit (30 days: 236 s).
Each grid time says whether the alert was firing at that instant; between two grid
times nothing is known. So an interval is ``[first time seen firing, first grid time
after it not seen)``: its start and end are each exact to within one ``step``, which
the answer carries. An alert still firing at the range's end ends at the range's end,
marked ``ongoing``. Several series of one alert (one per group of a ``group_by`` SLO)
are one alert here: it fired while any group's did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sloplane.api.schemas import FiringInterval
from sloplane.clients.prometheus import MAX_POINTS, Series

MIN_STEP = 1.0
"""Seconds: finer than any rule evaluation interval worth having."""


def step_for(start: float, end: float, max_points: int = MAX_POINTS) -> float:
    """The smallest whole-second step at which [start, end] is at most ``max_points``
    grid times (one request), and at least :data:`MIN_STEP`."""
    if end < start:
        raise ValueError(f"range ends ({end}) before it starts ({start})")
    return max(MIN_STEP, float(math.ceil((end - start) / (max_points - 1))))


def grid_start(start: float, end: float, step: float) -> float:
    """The first grid time at or after ``start`` on the grid that ends exactly at ``end``."""
    return end - math.floor((end - start) / step) * step


def intervals(
    series: Sequence[Series], start: float, end: float, step: float
) -> list[FiringInterval]:
    """Firing intervals per (alertname, severity), oldest first.

    ``series``: the ``query_range`` answer on the grid ``end - k * step`` (k >= 0) within
    [start, end]; a point present means the alert was firing then (``ALERTS`` is 1 while
    firing and absent otherwise; NaN or zero are read as not firing)."""
    tolerance = step * 1e-6
    by_alert: dict[tuple[str, str], set[float]] = {}
    for s in series:
        key = (s.labels.get("alertname", ""), s.labels.get("severity", ""))
        times = by_alert.setdefault(key, set())
        times.update(t for t, v in s.points if v > 0 and start <= t <= end)
    out: list[FiringInterval] = []
    for (name, severity), times in by_alert.items():
        ordered = sorted(times)
        first = 0
        for i, t in enumerate(ordered):
            last_of_run = i + 1 == len(ordered) or ordered[i + 1] - t > step + tolerance
            if not last_of_run:
                continue
            ongoing = end - t <= tolerance
            run_end = end if ongoing else min(end, t + step)
            out.append(
                FiringInterval(
                    alertname=name,
                    severity=severity,
                    start=ordered[first],
                    end=run_end,
                    ongoing=ongoing,
                    duration_seconds=run_end - ordered[first],
                )
            )
            first = i + 1
    return sorted(out, key=lambda i: (i.start, i.severity, i.alertname))
