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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sloplane.clients.prometheus import MAX_CLOCK_SKEW, PromReader, Series
from sloplane.detect.config import DetectConfig, WatchConfig
from sloplane.detect.describe import describe, series_name
from sloplane.detect.events import Events
from sloplane.detect.guards import Evidence
from sloplane.detect.outbox import AlertOutbox
from sloplane.detect.state import SeriesState, WatchState
from sloplane.detect.store import utc_iso
from sloplane.detect.warmup import eta_text, history_seconds, points_left
from sloplane.detectors.base import Detector
from sloplane.detectors.labels import format_labels
from sloplane.errors import BackendError

log = logging.getLogger("sloplane.detectors")

PRIME_POINTS = 250_000
"""Points of history read per range query while priming new series: the parsed
answer holds about 100 bytes a point, so about 25 MB at a time however many series
start together (reading 10,000 series' warm-up at once held over 1 GB)."""
PRIME_MIN_SLICE = 30
"""Points per series per query at the least, so a huge fleet still reads in
a bounded number of queries (the warm-up is about 1,200 points)."""

#: ``(watch, series, trigger, evidence, context)``: a series started firing; act on it.
OnAnomaly = Callable[[WatchConfig, SeriesState, str, Evidence, dict[str, Any]], None]
#: ``(watch, error)``: a poll failed while a series breached; the actions refuse once.
OnOutage = Callable[[WatchConfig, str], None]


@dataclass
class Deferred:
    """Work a tick found under the lock and does after it: delivering the alert queue
    and asking for actions (whose traffic read may be slow)."""

    deliver: bool = False
    calls: list[Callable[[], None]] = field(default_factory=list)

    def run(self, outbox: AlertOutbox) -> None:
        if self.deliver:
            outbox.deliver()
        for call in self.calls:
            call()


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
        self.shard = config.shard_of

    def tick(self, name: str) -> None:
        """Read new points of one watched query, score them, alert and act.

        The reads happen outside the lock: a slow Prometheus delays this watch only,
        never ``/metrics`` (the scheduler runs one tick per watch at a time). A series
        seen for the first time is primed from its own history (see
        :mod:`sloplane.detect.warmup`), also outside the lock, so it scores from its
        first live point. The first poll after a start reads the newest point of
        every series, and then, like for any new series, their history.
        """
        with self.lock:
            ws = self.watches[name]
            w = ws.config
            now = self.clock()
            # On the first poll every series is new: its history is read while priming it.
            start = now if ws.polled_until is None else ws.polled_until + w.step
            start = math.floor(start / w.step) * w.step
            if start > now:  # no new point is due yet; an empty range is not an outage
                return
            known = set(ws.series)
        try:
            returned = [s.finite() for s in self.prom.range(w.query, start, now, w.step)]
        except BackendError as exc:  # down, slow, an error, or an answer not to trust
            with self.lock:
                self._outage(ws, str(exc))
            return
        result = self._refuse_future(w, self._mine(returned), now)
        fresh = {k: rs for rs in result if (k := format_labels(rs.labels)) not in known}
        primed = self._prime(w, fresh, start) if fresh else {}
        # Scoring the known series is the poll's CPU work: it runs outside the lock too
        # (only this tick touches their detectors); the results are recorded under it.
        scored = {
            k: self.score(ws.series[k], rs.points)
            for rs in result
            if (k := format_labels(rs.labels)) not in primed
        }
        later = Deferred()
        with self.lock:
            self._apply(ws, len(returned), result, primed, scored, start, now, later)
        later.run(self.outbox)

    def _apply(
        self,
        ws: WatchState,
        returned: int,
        result: list[Series],
        primed: dict[str, SeriesState],
        scored: dict[str, Scored],
        start: float,
        now: float,
        later: Deferred,
    ) -> None:
        """Under the lock: record the poll, feed the known series, evaluate every series.

        Nothing here waits on the network: alerts are queued in the store and actions
        (with their fresh traffic read) are handed to ``later``, run after the lock.
        """
        w = ws.config
        if ws.error is not None:
            log.info("Watch %s: Prometheus answers again.", w.name)
        ws.error = None
        ws.refused_during_outage = False
        if not returned and ws.returned != 0:
            log.warning(
                "Watch %s: the query returned no series since %s, so nothing is being scored.",
                w.name,
                utc_iso(start),
            )
        ws.returned = returned  # the whole query's, whatever this replica's shard
        ws.polled_until = max((p[0] for s in result for p in s.points), default=ws.polled_until)
        for rs in result:
            key = format_labels(rs.labels)
            if key in primed:
                ws.series[key] = primed[key]
            else:
                self.record(ws.series[key], w, *scored[key])
        for st in ws.series.values():
            self.evaluate(ws, st, now, later)

    def _history(
        self, w: WatchConfig, keys: set[str], start: float
    ) -> Iterator[dict[str, tuple[tuple[float, float], ...]]]:
        """The new series' points before ``start``, in time slices, oldest first.

        One range query when the new series are few; with many (every series on the
        first poll after a start), slices of about :data:`PRIME_POINTS` points in all,
        so the parsed answer, which takes ten times the memory the detectors keep,
        never holds the whole history of 10,000 series at once. A failed read is not
        fatal: those series warm up from live points (after any slices already read),
        and until they are warm their evidence refuses every action.
        """
        end = start - w.step
        begin = math.floor((start - history_seconds(w)) / w.step) * w.step
        per_query = max(PRIME_MIN_SLICE, PRIME_POINTS // max(len(keys), 1))
        while begin <= end:
            stop = min(end, begin + (per_query - 1) * w.step)
            try:
                series = self.prom.range(w.query, begin, stop, w.step)
            except BackendError as exc:
                log.warning(
                    "Watch %s: the history of %d new series could not be read (%s), "
                    "so they warm up from live points.",
                    w.name,
                    len(keys),
                    exc,
                )
                return
            # Only points inside the slice asked for: a backend answering beyond it
            # (a point years ahead) must not become a series' newest point.
            lo, hi = begin, stop
            found = ((format_labels(s.labels), s.finite()) for s in self._mine(series))
            yield {k: tuple(p for p in s.points if lo <= p[0] <= hi) for k, s in found if k in keys}
            begin = stop + w.step

    def _prime(
        self, w: WatchConfig, fresh: Mapping[str, Series], start: float
    ) -> dict[str, SeriesState]:
        """New series' states, their detectors fed their history and then the live points."""
        states = {k: SeriesState(dict(rs.labels), w.build_detector()) for k, rs in fresh.items()}
        for part in self._history(w, set(fresh), start):
            for k, pts in part.items():
                self.feed(states[k], w, pts)
        for k, rs in fresh.items():
            st = states[k]
            self.feed(st, w, rs.points)
            left = points_left(st.detector)
            if left != 0:
                log.info(
                    "Watch %s: %s has too little history to score yet; it needs %s more.",
                    w.name,
                    series_name(st),
                    eta_text(left, w.step),
                )
        return states

    def _mine(self, result: list[Series]) -> list[Series]:
        """The series of this replica's shard (all of them without sharding)."""
        if self.shard.count == 1:
            return result
        return [s for s in result if self.shard.owns(format_labels(s.labels))]

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
                    "Watch %s: %s: %d point(s) dated after %s were refused.",
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
        """Score the points newer than the series' last one, in one batch.

        ``score_many`` gives exactly the scores of point-by-point updates, faster.
        Reaching ``consecutive`` breaches marks an episode, even inside history read
        at start-up: a shift under way when the service started still alerts.
        """
        self.record(st, w, *self.score(st, points))

    @staticmethod
    def score(st: SeriesState, points: Iterable[tuple[float, float]]) -> Scored:
        """The points newer than the series' last one, and their scores (the detector
        learns them); :meth:`record` then updates the series' state."""
        newer: list[tuple[float, float]] = []
        last = st.last_t
        for t, v in points:
            if last is None or t > last:
                newer.append((t, v))
                last = t
        return newer, _score(st.detector, newer) if newer else []

    def record(
        self, st: SeriesState, w: WatchConfig, newer: list[tuple[float, float]], scores: list[float]
    ) -> None:
        """Breaches, the newest point and the expected range, from scored points."""
        if not newer:
            return
        level = w.alert_level
        for (t, _), score in zip(newer, scores, strict=True):
            if score >= level:
                st.consecutive += 1
                st.last_breach_t = t
                if st.consecutive >= w.consecutive and st.firing_since is None:
                    st.episode_pending = True
            else:
                st.consecutive = 0
        st.last_t, st.last_value = newer[-1]
        st.last_score = scores[-1]
        st.expected = st.detector.expected_range
        self.events.count("points", w.name, len(newer))

    def staleness(self, st: SeriesState, now: float) -> str | None:
        """Why the series' data cannot be trusted now, or None."""
        if st.last_t is None:
            return "no data yet"
        age = now - st.last_t
        if age > self.config.guards.max_staleness:
            return f"newest point is {age:.0f}s old (limit {self.config.guards.max_staleness:.0f}s)"
        return None

    def evaluate(
        self, ws: WatchState, st: SeriesState, now: float, later: Deferred | None = None
    ) -> None:
        """Fire, resolve or re-send the series' alert (network work goes to ``later``;
        without one it runs at once)."""
        todo = later if later is not None else Deferred()
        w = ws.config
        if self.staleness(st, now):
            return  # missing data is not evidence either way: no alert change, no action
        if st.firing_since is None:
            if st.episode_pending and not _recovered(w, st):
                self._start_firing(w, st, now, todo)
            st.episode_pending = False  # started, or over before it could be seen
        elif _recovered(w, st):
            log.info(
                "Watch %s: %s is back within its expected range, so its alert is resolved.",
                w.name,
                series_name(st),
            )
            self._send(w, st, now, False, todo)
            st.firing_since = None
        elif now - st.last_sent >= self.config.alertmanager.resend_every:
            self._send(w, st, now, True, todo)
        if later is None:
            todo.run(self.outbox)

    def _send(
        self, w: WatchConfig, st: SeriesState, now: float, firing: bool, later: Deferred
    ) -> None:
        self.outbox.send(w, st, now, firing=firing, deliver=False)
        later.deliver = True

    def _start_firing(
        self, w: WatchConfig, st: SeriesState, now: float, later: Deferred | None = None
    ) -> None:
        """A new episode: alert, and ask for the watch's actions once."""
        todo = later if later is not None else Deferred()
        st.firing_since = now
        series = format_labels(st.labels)
        log.info("%s The alert fires.", describe(w, st))
        self._send(w, st, now, True, todo)
        if w.actions:
            context = {
                "watch": w.name,
                "series": st.labels,
                "score": st.last_score,
                "value": st.last_value,
            }
            trigger = f"anomaly {w.name} {series} score {st.last_score:.3f}"
            base = self._evidence(self.watches[w.name], st, now)

            def act() -> None:  # after the lock: the traffic query may be slow
                evidence = self._with_traffic(w, base, now)
                self.on_anomaly(w, st, trigger, evidence, context)

            todo.calls.append(act)
        if later is None:
            todo.run(self.outbox)

    def _evidence(self, ws: WatchState, st: SeriesState, now: float) -> Evidence:
        """The series' side of the evidence, read under the lock."""
        w = ws.config
        return Evidence(
            data_error=ws.error or self.staleness(st, now) or _warming(w, st),
            breaches=st.consecutive,
            required_breaches=w.consecutive,
            traffic_min=w.traffic.min if w.traffic else None,
        )

    def _with_traffic(self, w: WatchConfig, evidence: Evidence, now: float) -> Evidence:
        """The evidence with the traffic read fresh; call it without the lock held."""
        if w.traffic is None:
            return evidence
        try:
            rows = self.prom.instant(w.traffic.query, now)
        except BackendError as exc:
            return replace(evidence, traffic_error=str(exc))
        traffic = sum(r.value for r in rows if math.isfinite(r.value)) if rows else None
        return replace(evidence, traffic=traffic)

    def evidence(self, ws: WatchState, st: SeriesState, now: float) -> Evidence:
        """What the guards need to know about the series now (traffic read fresh)."""
        return self._with_traffic(ws.config, self._evidence(ws, st, now), now)

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
            now = self.clock()
            evidence = self._evidence(ws, st, now)
            if st.firing_since is not None:
                evidence = replace(evidence, breaches=max(evidence.breaches, ws.config.consecutive))
        return self._with_traffic(ws.config, evidence, now)  # not under the lock: may be slow

    def _outage(self, ws: WatchState, error: str) -> None:
        # once per outage (and when the error changes), not on every poll while it lasts
        (log.debug if error == ws.error else log.warning)(
            "Watch %s: the poll failed, so nothing fires, resolves or acts: %s.",
            ws.config.name,
            error.rstrip("."),
        )
        ws.error = error
        self.events.count("poll_errors", ws.config.name)
        breaching = any(st.consecutive > 0 or st.firing_since for st in ws.series.values())
        if breaching and ws.config.actions and not ws.refused_during_outage:
            ws.refused_during_outage = True
            self.on_outage(ws.config, error)


Scored = tuple[list[tuple[float, float]], list[float]]
"""Points newer than a series' last one, and their scores."""

#: Up to this many points are scored with ``update``: a vectorised batch costs more
#: to set up than a live poll's point or two (benchmarks/detect_serve_scale.py).
BATCH_FROM = 16


def _score(detector: Detector, points: list[tuple[float, float]]) -> list[float]:
    """Scores of ``points`` in order; ``score_many`` equals ``update`` by contract."""
    if len(points) < BATCH_FROM:
        return [detector.update(t, v) for t, v in points]
    ts = np.fromiter((p[0] for p in points), float, len(points))
    xs = np.fromiter((p[1] for p in points), float, len(points))
    return [float(v) for v in detector.score_many(ts, xs)]


def _warming(w: WatchConfig, st: SeriesState) -> str | None:
    """Why a series that has not learnt its data yet cannot justify an action."""
    if not st.detector.warming_up:
        return None
    return f"the series is still warming up ({eta_text(points_left(st.detector), w.step)} left)"


def _recovered(w: WatchConfig, st: SeriesState) -> bool:
    """Below the alert level, and ``keep_firing_for`` past the last breach (in data time)."""
    if st.last_score >= w.alert_level or st.last_t is None:
        return False
    return st.last_breach_t is None or st.last_t - st.last_breach_t >= w.keep_firing_for
