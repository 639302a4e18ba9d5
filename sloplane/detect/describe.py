"""What an alert and a log line say about an anomalous series, in whole sentences.

An on-call engineer reads the alert before the dashboard: it names the series,
the side the value left its expected range on, the value against that range,
and how rare such a point is for this series. Numbers the detector cannot give
(a bare detector has no rarity estimate) are said to be missing, never guessed.
"""

from __future__ import annotations

import math

from sloplane.detect.config import WatchConfig
from sloplane.detect.state import SeriesState
from sloplane.detectors.labels import format_labels


def series_name(st: SeriesState) -> str:
    """The series as PromQL writes it; "the series" when the query returns one unlabelled value."""
    text = format_labels(st.labels)
    return text if text not in ("", "{}") else "the series"


def side(st: SeriesState) -> str:
    """``above``, ``below`` or ``inside`` the expected range (``unknown`` without one)."""
    if st.expected is None or not math.isfinite(st.last_value):
        return "unknown"
    lo, hi = st.expected
    if st.last_value > hi:
        return "above"
    if st.last_value < lo:
        return "below"
    return "inside"


def rarity(st: SeriesState) -> str:
    """ "about 1 in 10,000 points", or why no such figure is given."""
    one_in = getattr(st.detector, "one_in", None)
    if isinstance(one_in, int | float) and one_in > 1 and math.isfinite(one_in):
        return f"about 1 in {one_in:,.0f} points for this series"
    return "this detector gives no rarity estimate"


def describe(w: WatchConfig, st: SeriesState) -> str:
    """One paragraph for the alert's ``description`` and the firing log line."""
    where = side(st)
    if st.expected is None:
        against = "no expected range is known yet"
    else:
        lo, hi = st.expected
        against = f"the expected range is {lo:.6g} to {hi:.6g}"
    moved = {"above": "is above", "below": "is below", "inside": "is inside"}.get(where, "is")
    harmful = "" if w.direction == "both" else f" (the watch alerts on moves {w.direction})"
    return (
        f"Watch {w.name}: {series_name(st)} {moved} its expected range{harmful}: "
        f"value {st.last_value:.6g}, {against}; {rarity(st)} "
        f"(score {st.last_score:.3f}, alert at {w.alert_level:g})."
    )
