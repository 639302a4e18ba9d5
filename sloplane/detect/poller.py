"""Polling: read each watched query's new points, score them, fire and resolve alerts.

Each poll reads only the points it has not seen (a range query from the last point
on) and feeds them to one detector per series. A series that breaches its threshold
for ``consecutive`` points fires an alert (through the outbox) and asks its actions to
run; the gate decides. Prometheus errors, missing series and stale points never count
as evidence.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from sloplane.clients.prometheus import MAX_CLOCK_SKEW, PromReader, Series
from sloplane.detect.config import DetectConfig, WatchConfig
from sloplane.detect.events import Events
from sloplane.detect.guards import Evidence
from sloplane.detect.outbox import AlertOutbox
from sloplane.detect.state import SeriesState, WatchState
from sloplane.detect.store import utc_iso
from sloplane.detectors.detectors import make_detector
from sloplane.detectors.labels import format_labels
from sloplane.errors import BackendError

log = logging.getLogger("sloplane.detectors")

#: ``(watch, series, trigger, evidence, context)``: a series started firing; act on it.
OnAnomaly = Callable[[WatchConfig, SeriesState, str, Evidence, dict[str, Any]], None]
#: ``(watch, error)``: a poll failed while a series breached; the actions refuse once.
OnOutage = Callable[[WatchConfig, str], None]


class Poller:
    """Owns the watches' state; one :meth:`tick` per watch and schedule slot."""

    def __init__(
        self,
        config: DetectConfig,
        prom: PromReader,
        outbox: AlertOutbox,
        events: Events,
        clock: Callable[[], float],
        lock: threading.RLock,
        on_anomaly: OnAnomaly,
        on_outage: OnOutage,
    ) -> None:
        self.config = config
        self.prom = prom
        self.outbox = outbox
        self.events = events
        self.clock = clock
        self.lock = lock
        self.on_anomaly = on_anomaly
        self.on_outage = on_outage
        self.watches = {w.name: WatchState(w) for w in config.watches}

    def tick(self, name: str) -> None:
        """Read new points of one watched query, score them, alert and act.

        The read happens outside the lock: a slow Prometheus delays this watch only,
        never ``/metrics`` (the scheduler runs one tick per watch at a time).
        """
        with self.lock:
            ws = self.watches[name]
            w = ws.config
            now = self.clock()
            start = ws.polled_until + w.step if ws.polled_until is not None else now - w.lookback
            start = math.floor(start / w.step) * w.step
            if start > now:  # no new point is due yet; an empty range is not an outage
                return
        try:
            result = [s.finite() for s in self.prom.range(w.query, start, now, w.step)]
        except BackendError as exc:  # down, slow, an error, or an answer not to trust
            with self.lock:
                self._outage(ws, str(exc))
            return
        with self.lock:
            result = self._refuse_future(w, result, now)
            if ws.error is not None:
                log.info("watch %s: Prometheus answers again", name)
            ws.error = None
            ws.refused_during_outage = False
            if not result and ws.returned != 0:
                log.warning(
                    "watch %s: the query returned no series since %s: nothing is being scored",
                    name,
                    utc_iso(start),
                )
            ws.returned = len(result)
            ws.polled_until = max((p[0] for s in result for p in s.points), default=ws.polled_until)
            for rs in result:
                key = format_labels(rs.labels)
                st = ws.series.get(key)
                if st is None:
                    st = ws.series[key] = SeriesState(
                        dict(rs.labels), make_detector(w.detector, **w.params)
                    )
                self.feed(st, w, rs.points)
            for st in ws.series.values():
                self.evaluate(ws, st, now)

    def _refuse_future(self, w: WatchConfig, result: list[Series], now: float) -> list[Series]:
        """Drop points dated after now (beyond the clock skew allowed), counting each.

        One point ten years ahead would otherwise become the series' newest point, and
        every later (real) point would be skipped as old: the watch would stop scoring.
        """
        limit = now + MAX_CLOCK_SKEW
        kept = []
        for s in result:
            points = tuple(p for p in s.points if p[0] <= limit)
            refused = len(s.points) - len(points)
            if refused:
                log.warning(
                    "watch %s: %s: refused %d point(s) dated after %s",
                    w.name,
                    format_labels(s.labels),
                    refused,
                    utc_iso(limit),
                )
                for _ in range(refused):
                    self.events.count("future_samples", w.name)
            kept.append(Series(s.labels, points))
        return kept

    def feed(self, st: SeriesState, w: WatchConfig, points: Iterable[tuple[float, float]]) -> None:
        """Score the points newer than the series' last one."""
        for t, v in points:
            if st.last_t is not None and t <= st.last_t:
                continue
            st.last_score = st.detector.update(t, v)
            st.last_t, st.last_value = t, v
            st.expected = st.detector.expected_range
            breach = st.last_score >= w.threshold
            st.consecutive = st.consecutive + 1 if breach else 0
            if breach:
                st.last_breach_t = t
            self.events.count("points", w.name)

    def staleness(self, st: SeriesState, now: float) -> str | None:
        """Why the series' data cannot be trusted now, or None."""
        if st.last_t is None:
            return "no data yet"
        age = now - st.last_t
        if age > self.config.guards.max_staleness:
            return f"newest point is {age:.0f}s old (limit {self.config.guards.max_staleness:.0f}s)"
        return None

    def evaluate(self, ws: WatchState, st: SeriesState, now: float) -> None:
        """Fire, resolve or re-send the series' alert."""
        w = ws.config
        if self.staleness(st, now):
            return  # missing data is not evidence either way: no alert change, no action
        if st.firing_since is None:
            if st.consecutive >= w.consecutive:
                self._start_firing(w, st, now)
        elif _recovered(w, st):
            log.info("watch %s: %s recovered, alert resolved", w.name, format_labels(st.labels))
            self.outbox.send(w, st, now, firing=False)
            st.firing_since = None
        elif now - st.last_sent >= self.config.alertmanager.resend_every:
            self.outbox.send(w, st, now, firing=True)

    def _start_firing(self, w: WatchConfig, st: SeriesState, now: float) -> None:
        """A new episode: alert, and ask for the watch's actions once."""
        st.firing_since = now
        series = format_labels(st.labels)
        log.info(
            "watch %s: %s anomalous (score %.3f, value %g), alert firing",
            w.name,
            series,
            st.last_score,
            st.last_value,
        )
        self.outbox.send(w, st, now, firing=True)
        if not w.actions:
            return
        context = {
            "watch": w.name,
            "series": st.labels,
            "score": st.last_score,
            "value": st.last_value,
        }
        trigger = f"anomaly {w.name} {series} score {st.last_score:.3f}"
        self.on_anomaly(w, st, trigger, self.evidence(self.watches[w.name], st, now), context)

    def evidence(self, ws: WatchState, st: SeriesState, now: float) -> Evidence:
        """What the guards need to know about the series now (traffic read fresh)."""
        w = ws.config
        traffic = traffic_error = None
        if w.traffic is not None:
            try:
                rows = self.prom.instant(w.traffic.query, now)
                traffic = sum(r.value for r in rows if math.isfinite(r.value)) if rows else None
            except BackendError as exc:
                traffic_error = str(exc)
        return Evidence(
            data_error=ws.error or self.staleness(st, now),
            breaches=st.consecutive,
            required_breaches=w.consecutive,
            traffic=traffic,
            traffic_min=w.traffic.min if w.traffic else None,
            traffic_error=traffic_error,
        )

    def fresh_evidence(self, watch: str, labels: Mapping[str, str]) -> Evidence:
        """The evidence an approval re-checks: the series as polled now.

        A firing alert is evidence of the anomaly (its episode lasts ``keep_firing_for``);
        a poll error, stale data or a series this process does not watch refuse.
        """
        with self.lock:
            ws = self.watches.get(watch)
            if ws is None:
                return Evidence(data_error=f"watch {watch} is no longer configured")
            st = ws.series.get(format_labels(labels))
            if st is None:
                return Evidence(data_error="the series has not been polled since the request")
            evidence = self.evidence(ws, st, self.clock())
            if st.firing_since is not None:
                evidence = replace(evidence, breaches=max(evidence.breaches, ws.config.consecutive))
            return evidence

    def _outage(self, ws: WatchState, error: str) -> None:
        # once per outage (and when the error changes), not on every poll while it lasts
        (log.debug if error == ws.error else log.warning)("watch %s: %s", ws.config.name, error)
        ws.error = error
        self.events.count("poll_errors", ws.config.name)
        breaching = any(st.consecutive > 0 or st.firing_since for st in ws.series.values())
        if breaching and ws.config.actions and not ws.refused_during_outage:
            ws.refused_during_outage = True
            self.on_outage(ws.config, error)


def _recovered(w: WatchConfig, st: SeriesState) -> bool:
    """Below the threshold, and ``keep_firing_for`` past the last breach (in data time)."""
    if st.last_score >= w.threshold or st.last_t is None:
        return False
    return st.last_breach_t is None or st.last_t - st.last_breach_t >= w.keep_firing_for
