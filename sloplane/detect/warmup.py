"""Warm start: how much history primes a watch's detectors, and how much warm-up is left.

A detector that starts empty scores 0 until it has learnt the series, and the
service would be blind after every restart, exactly when deploys go wrong. The
poller therefore reads each new series' own history (one ``query_range``,
chunked by the client) and feeds it before the first live point. When the
history is shorter than the warm-up, these say how many points are still
missing and how long that takes at the watch's step.
"""

from __future__ import annotations

from sloplane.detect.config import WatchConfig
from sloplane.detectors.base import Detector
from sloplane.detectors.watch import WARMUP_POINTS


def history_seconds(w: WatchConfig) -> float:
    """Seconds of history read to prime a new series: the watch rules' warm-up, then
    ``lookback`` scored as if live, so an episode under way at the start is seen by a
    warm detector (a bare detector reads ``lookback`` only, as before)."""
    return w.lookback + (WARMUP_POINTS * w.step if w.uses_rules else 0.0)


def points_left(detector: Detector) -> int | None:
    """Points the detector still needs before it can score; None when it cannot say."""
    if not detector.warming_up:
        return 0
    left = getattr(detector, "warmup_left", None)
    return int(left) if isinstance(left, int | float) and left > 0 else None


def eta_text(points: int | None, step: float) -> str:
    """``"120 points, about 1h0m"``, or what is unknown."""
    if points is None:
        return "an unknown number of points"
    seconds = points * step
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    span = (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )
    return f"{points:,} points, about {span}"
