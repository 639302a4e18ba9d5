"""/metrics never waits on the network: reads that may be slow run outside the service lock.

The detector's /metrics p99 was about 1 s in a soak: when an anomaly fired, the
traffic guard's query (and the AlertManager POST) ran under the lock every scrape
takes. A traffic query that hangs must leave the lock free.
"""

from __future__ import annotations

import threading
from pathlib import Path

from prometheus_client import generate_latest

from sloplane.clients.prometheus import Sample
from sloplane.detect.config import parse_config
from sloplane.detect.service import Service
from sloplane.detect.state import SeriesState
from tests.detectors.fakes import FixedProm, Scripted, series

T0 = 1_700_000_040.0


class HangingTraffic(FixedProm):
    """Answers range reads at once; the traffic (instant) read waits until released."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()
        self.release = threading.Event()

    def instant(self, query: str, at: float | None = None) -> list[Sample]:
        self.asked.set()
        self.release.wait(timeout=30)
        return [Sample({}, 100.0, at or T0)]


def test_a_hanging_traffic_query_leaves_metrics_and_the_lock_free(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp_path / 'd.db'}",
            "watches": [
                {
                    "name": "w",
                    "query": "up",
                    "step": "1m",
                    "threshold": 0.5,
                    "consecutive": 1,
                    "traffic": {"query": "rps", "min": 1},
                    "actions": ["scale"],
                }
            ],
            "actions": [{"name": "scale", "hook": {"kind": "keda"}}],
        }
    )
    prom = HangingTraffic()
    svc = Service(cfg, clock=lambda: T0, prom=prom)
    try:
        labels = {"instance": "a"}
        svc.watches["w"].series['{instance="a"}'] = SeriesState(labels, Scripted([1.0]))
        prom.series = [series(labels, [(T0 - 60, 5.0)])]
        poll = threading.Thread(target=svc.tick_watch, args=("w",))
        poll.start()
        assert prom.asked.wait(timeout=30), "the anomaly never asked for traffic"
        assert svc.lock.acquire(timeout=10), "the traffic read holds the service lock"
        svc.lock.release()
        assert b'sloplane_anomaly_firing{instance="a",watch="w"} 1.0' in generate_latest(
            svc.registry
        )
        prom.release.set()
        poll.join(timeout=30)
        assert not poll.is_alive()
        svc.gate.settle(timeout=30)
    finally:
        prom.release.set()
        svc.stop()


def test_a_slow_alertmanager_post_leaves_the_lock_free(tmp_path: Path) -> None:
    """The soak's case: AlertManager takes seconds to accept; scrapes must not wait for it."""
    from tests.support.slow_alertmanager import SlowAlertmanager

    am = SlowAlertmanager(delay=2.0).start()
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": am.url},
            "database": f"sqlite:///{tmp_path / 'd.db'}",
            "watches": [
                {"name": "w", "query": "up", "step": "1m", "threshold": 0.5, "consecutive": 1}
            ],
        }
    )
    prom = FixedProm()
    svc = Service(cfg, clock=lambda: T0, prom=prom)
    try:
        labels = {"instance": "a"}
        st = svc.watches["w"].series['{instance="a"}'] = SeriesState(labels, Scripted([1.0]))
        prom.series = [series(labels, [(T0 - 60, 5.0)])]
        poll = threading.Thread(target=svc.tick_watch, args=("w",))
        poll.start()
        while st.firing_since is None and poll.is_alive():  # set under the lock
            threading.Event().wait(0.001)
        with svc.lock, am.lock:  # AlertManager counts a POST once it has answered it
            answered = am.posts
        poll.join(timeout=30)
        assert answered == 0, "the tick held the lock through its AlertManager POST"
        assert am.posts == 1
    finally:
        svc.stop()
        am.stop()
