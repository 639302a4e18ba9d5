"""What the service remembers about each watched query and series between polls."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sloplane.detect.config import WatchConfig
from sloplane.detectors.base import Detector


@dataclass
class SeriesState:
    labels: dict[str, str]
    detector: Detector
    last_t: float | None = None
    last_value: float = math.nan
    last_score: float = 0.0
    consecutive: int = 0
    last_breach_t: float | None = None
    """Data time of the newest point at or above the threshold."""
    firing_since: float | None = None
    last_sent: float = 0.0
    expected: tuple[float, float] | None = None
    episode_pending: bool = False
    """``consecutive`` breaches were reached (perhaps in primed history) and the alert
    has not started yet: it starts unless the series recovered since."""


@dataclass
class WatchState:
    config: WatchConfig
    series: dict[str, SeriesState] = field(default_factory=dict)
    error: str | None = None
    polled_until: float | None = None
    refused_during_outage: bool = False
    returned: int | None = None
    """Series the query returned on the last successful poll (None before the first);
    0 means the watch sees nothing."""

    def warming_up(self) -> int:
        """Series whose detector cannot score yet."""
        return sum(1 for st in self.series.values() if st.detector.warming_up)

    def warmup_left(self) -> int | None:
        """Most points any series still needs before it scores (0 when all are warm;
        None when a warming detector cannot say)."""
        from sloplane.detect.warmup import points_left

        most = 0
        for st in self.series.values():
            left = points_left(st.detector)
            if left is None:
                return None
            most = max(most, left)
        return most
