"""Alerts for AlertManager, kept in the store until AlertManager has accepted them.

An alert is written to the outbox first and sent after, in order, so a restart or
an AlertManager outage delays alerts but never loses or reorders them.
"""

from __future__ import annotations

import json
import math
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from sloplane.clients.alertmanager import Alert, AlertmanagerClient
from sloplane.detect.config import DetectConfig, WatchConfig
from sloplane.detect.describe import describe, rarity, series_name, side
from sloplane.detect.events import Events
from sloplane.detect.state import SeriesState
from sloplane.detect.store import Store
from sloplane.errors import BackendError

ALERTNAME = "SloplaneAnomaly"
#: Seconds AlertManager has to accept a batch.
POST_TIMEOUT = 5.0


class AlertOutbox:
    """Builds each series' alert, queues it, and delivers the queue."""

    def __init__(
        self, config: DetectConfig, store: Store, events: Events, clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.store = store
        self.events = events
        self.clock = clock
        self._delivering = threading.Lock()

    def send(
        self, w: WatchConfig, st: SeriesState, now: float, *, firing: bool, deliver: bool = True
    ) -> None:
        """Queue the series' alert (firing, or resolved now) and, unless told not to (the
        poller delivers after releasing its lock), try to deliver the queue."""
        am = self.config.alertmanager
        body = Alert(
            labels=self._labels(w, st),
            annotations=self._annotations(w, st),
            starts_at=st.firing_since or now,
            ends_at=now + am.alert_ttl if firing else now,
            generator_url=self._generator_url(w),
        ).to_json()
        st.last_sent = now
        if am.url:
            self.store.enqueue([body], now)
            self.events.count("alerts_firing" if firing else "alerts_resolved", w.name)
        if deliver:
            self.deliver()

    @staticmethod
    def _labels(w: WatchConfig, st: SeriesState) -> dict[str, str]:
        labels = {**st.labels, **w.labels, "alertname": ALERTNAME, "watch": w.name}
        labels.pop("__name__", None)
        return labels

    @staticmethod
    def _annotations(w: WatchConfig, st: SeriesState) -> dict[str, str]:
        lo, hi = st.expected if st.expected else (math.nan, math.nan)
        annotations = {
            "summary": f"{series_name(st)} of watch {w.name} is {side(st)} its expected range",
            "description": describe(w, st),
            "value": f"{st.last_value:g}",
            "expected_range": f"{lo:.6g} .. {hi:.6g}" if st.expected else "unknown",
            "rarity": rarity(st),
            "score": f"{st.last_score:.3f}",
            "threshold": f"{w.alert_level:g}",
            "query": w.query,
        }
        if w.runbook_url:
            annotations["runbook_url"] = w.runbook_url
        if w.dashboard_url:
            annotations["dashboard_url"] = w.dashboard_url
        return annotations

    def _generator_url(self, w: WatchConfig) -> str:
        base = self.config.alertmanager.generator_url or self.config.prometheus.url
        if not base:
            return ""
        return f"{base.rstrip('/')}/graph?g0.expr={urllib.parse.quote(w.query)}&g0.tab=0"

    def deliver(self) -> int:
        """Send queued alerts in order; stop at the first failure so none overtakes another.

        At most once per row and AlertManager timeout window: one delivery at a time in
        this process, and each row is claimed in the store before its POST, so neither a
        second thread nor a second process posts it while a slow POST may still land.
        """
        url = self.config.alertmanager.url
        if not url:
            return 0
        if not self._delivering.acquire(blocking=False):
            return 0  # a delivery is running (the schedule's or a poll's): it sends these too
        try:
            return self._deliver(url)
        finally:
            self._delivering.release()

    def _deliver(self, url: str) -> int:
        sent = 0
        with AlertmanagerClient(url, timeout=POST_TIMEOUT) as client:
            for row in self.store.pending():
                if not self.store.claim(row.id, self.clock(), POST_TIMEOUT):
                    break  # being posted, or its last POST may still land: keep the order
                try:
                    client.post_alerts(_loads(row.payload))
                except BackendError as exc:
                    self.store.mark_failed(row.id, str(exc), maybe_received=_maybe_received(exc))
                    self.events.count("outbox_errors", "alertmanager")
                    break
                self.store.mark_delivered(row.id, self.clock())
                sent += 1
        return sent


def _maybe_received(exc: BaseException) -> bool:
    """A POST that timed out after it was sent may have been accepted; a refused
    connection or an error answer was not."""
    return isinstance(exc.__cause__, httpx.ReadTimeout | httpx.WriteTimeout)


def _loads(payload: str) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = json.loads(payload)
    return value
