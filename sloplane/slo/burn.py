"""Multi-window, multi-burn-rate alert windows (Google SRE workbook, chapter 5).

The workbook's table is for a 30-day window: page when 2% of the budget burns in
1h (factor 14.4) or 5% in 6h (factor 6); open a ticket when 10% burns in 1d
(factor 3) or 10% in 3d (factor 1). Each long window is paired with a short
window of 1/12 its length so that an alert stops soon after the burn stops.

For other SLO windows we keep the *budget shares* and scale every window by
``window / 30d``, so the factors stay the same and an alert still means "this
share of the whole budget is gone". Scaled windows are rounded to whole minutes
(whole seconds below ten minutes) and never go below 5 minutes; the factor is
then recomputed from the rounded window so that ``factor * long / window ==
share`` holds exactly. For SLO windows under about a week the 5-minute floor
makes factors smaller than the table's; validation warns when that happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Severity = Literal["page", "ticket"]
SEVERITIES: tuple[Severity, ...] = ("page", "ticket")

THIRTY_DAYS = 30 * 86400


@dataclass(frozen=True)
class BurnRateWindow:
    """One alert condition: burn above ``factor`` over both ``long`` and ``short`` (seconds)."""

    severity: Severity
    long: int
    short: int
    budget_share: float
    factor: float


# (severity, long window, short window, share of the budget) for a 30-day SLO.
WORKBOOK_TABLE: tuple[tuple[Severity, int, int, float], ...] = (
    ("page", 3600, 300, 0.02),
    ("page", 6 * 3600, 1800, 0.05),
    ("ticket", 86400, 2 * 3600, 0.10),
    ("ticket", 3 * 86400, 6 * 3600, 0.10),
)


# Derived windows never go below this: a rate needs several scrapes to mean anything
# (four 1m scrapes in 5m), and Sloth's shortest window is 5m too. Explicit
# AlertWindow overrides are taken as given.
MIN_WINDOW = 300


def _round_window(seconds: float) -> int:
    if seconds >= 600:
        return round(seconds / 60) * 60
    return max(MIN_WINDOW, round(seconds))


@lru_cache(maxsize=512)
def burn_rate_windows(slo_window: int) -> tuple[BurnRateWindow, ...]:
    """Derive the four alert windows for an SLO window of ``slo_window`` seconds."""
    scale = slo_window / THIRTY_DAYS
    windows = []
    for severity, long, short, share in WORKBOOK_TABLE:
        short_s = _round_window(short * scale)
        long_s = max(_round_window(long * scale), short_s)
        factor = round(share * slo_window / long_s, 6)
        windows.append(BurnRateWindow(severity, long_s, short_s, share, factor))
    return tuple(windows)
