"""``/metrics`` of the detector service: built at scrape time from the watches' state."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from sloplane.detect.events import Events
from sloplane.detect.shard import Shard
from sloplane.detect.state import WatchState


class ServiceMetrics(Collector):
    """Scores and health of every series, and the event counters."""

    def __init__(
        self,
        watches: Mapping[str, WatchState],
        events: Events,
        lock: threading.RLock,
        shard: Shard | None = None,
    ) -> None:
        self.watches = watches
        self.shard = shard
        self.events = events
        self.lock = lock

    def collect(self) -> Iterable[Metric]:
        with self.lock:
            families = self._watch_families()
        events = CounterMetricFamily(
            "sloplane_detector_events",
            "Points scored, alerts, poll errors and action outcomes.",
            labels=["event", "name"],
        )
        for (what, label), n in self.events.snapshot():
            events.add_metric([what, label], float(n))
        return [*families, events]

    def _watch_families(self) -> list[Metric]:
        score = GaugeMetricFamily(
            "sloplane_anomaly_score", "Latest anomaly score of a watched series (0..1)."
        )
        value = GaugeMetricFamily(
            "sloplane_anomaly_value", "Latest value seen of a watched series."
        )
        firing = GaugeMetricFamily(
            "sloplane_anomaly_firing", "1 while the series' anomaly alert fires."
        )
        up = GaugeMetricFamily(
            "sloplane_detector_up", "1 when the last poll of a watch succeeded.", labels=["watch"]
        )
        threshold = GaugeMetricFamily(
            "sloplane_anomaly_threshold",
            "Score at or above which a watch's series breach.",
            labels=["watch"],
        )
        series = GaugeMetricFamily(
            "sloplane_detector_series",
            "Series the watch's query returned on its last successful poll.",
            labels=["watch"],
        )
        warming = GaugeMetricFamily(
            "sloplane_detector_warming_up",
            "Series whose detector is still learning: they score 0 whatever happens.",
            labels=["watch"],
        )
        left = GaugeMetricFamily(
            "sloplane_detector_warmup_remaining_points",
            "Most points any series of the watch still needs before it scores "
            "(0 when every series is warm; NaN when a detector cannot say).",
            labels=["watch"],
        )
        eta = GaugeMetricFamily(
            "sloplane_detector_warmup_eta_seconds",
            "Seconds of data until every series of the watch scores (remaining points x step).",
            labels=["watch"],
        )
        for ws in self.watches.values():
            name = ws.config.name
            up.add_metric([name], 0.0 if ws.error else 1.0)
            threshold.add_metric([name], ws.config.alert_level)
            series.add_metric([name], float(ws.returned or 0))
            warming.add_metric([name], float(ws.warming_up()))
            remaining = ws.warmup_left()
            points = math.nan if remaining is None else float(remaining)
            left.add_metric([name], points)
            eta.add_metric([name], points * ws.config.step)
            for st in ws.series.values():
                labels = {
                    k: v for k, v in sorted(st.labels.items()) if k != "__name__" and k != "watch"
                }
                names = ["watch", *labels]
                vals = [name, *labels.values()]
                for fam, v in (
                    (score, st.last_score),
                    (value, st.last_value),
                    (firing, 1.0 if st.firing_since else 0.0),
                ):
                    fam.samples.append(_sample(fam.name, names, vals, v))
        shard = GaugeMetricFamily(
            "sloplane_detector_shard",
            "1, labelled with this replica's shard: it scores series whose hashmod is index.",
            labels=["index", "count"],
        )
        if self.shard is not None:
            shard.add_metric([str(self.shard.index), str(self.shard.count)], 1.0)
        return [score, value, firing, up, threshold, series, warming, left, eta, shard]


def _sample(name: str, names: list[str], vals: list[str], v: float) -> Any:
    return Sample(name, dict(zip(names, vals, strict=True)), v, None, None)
