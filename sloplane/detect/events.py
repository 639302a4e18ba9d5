"""Event counters every part of the service adds to and ``/metrics`` exports."""

from __future__ import annotations

import threading

from sloplane.detect.config import DetectConfig
from sloplane.detect.metric_names import ACTION_OUTCOMES, WATCH_EVENTS


class Events:
    """``(event, name) -> count``; thread-safe, since hooks and polls count from their threads."""

    def __init__(self, config: DetectConfig) -> None:
        self.counts: dict[tuple[str, str], int] = zero_counters(config)
        self._lock = threading.Lock()

    def count(self, what: str, label: str, n: int = 1) -> None:
        with self._lock:
            self.counts[(what, label)] = self.counts.get((what, label), 0) + n

    def snapshot(self) -> list[tuple[tuple[str, str], int]]:
        with self._lock:
            return sorted(self.counts.items())


def zero_counters(config: DetectConfig) -> dict[tuple[str, str], int]:
    """Every event counter at 0 from the start, so ``increase()`` sees its first events.

    A counter that first appears already at 35 (after an outage Prometheus missed) has
    no increase in Prometheus's eyes.
    """
    counters = {(event, w.name): 0 for w in config.watches for event in WATCH_EVENTS}
    counters.update({(f"actions_{o}", a.name): 0 for a in config.actions for o in ACTION_OUTCOMES})
    if config.alertmanager.url:
        counters[("outbox_errors", "alertmanager")] = 0
    return counters
