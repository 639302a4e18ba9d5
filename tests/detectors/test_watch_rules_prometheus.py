"""Watch rules from detect.yaml against a real Prometheus and a real AlertManager (issue 16).

Prometheus holds three backfilled series at one point a minute: the warm-up,
then a day of healthy data, then an hour with the events. The service's clock
walks the data poll by poll (10-minute polls through the day, 1-minute polls
through the events):

- ``direction: up`` alerts on a jump and not on the recovery from it;
- ``false_alarms: 1/week`` (the default budget) stays silent on the healthy day
  (not one breaching point) and alerts on a 4-sigma level shift within 10 minutes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sloplane.detect.config import parse_config
from sloplane.detect.service import Service
from sloplane.detect.warmup import history_seconds
from tests.support.processes import (
    Alertmanager,
    Prometheus,
    backfill_openmetrics,
    prometheus_config,
    run_alertmanager,
    run_prometheus,
)

pytestmark = pytest.mark.integration

STEP = 60
WARM = 1111 + 60  # the watch rules' warm-up and the default 1h lookback
DAY = 1440
EVENT = WARM + DAY  # index of the first event point
POINTS = EVENT + 60
END = int(time.time()) // STEP * STEP - STEP
START = END - (POINTS - 1) * STEP
SD = 2.0
AM_CONFIG = """
route:
  receiver: default
  group_wait: 1s
receivers:
  - name: default
"""


def t_of(i: int) -> float:
    return float(START + i * STEP)


def _history() -> str:
    rng = random.Random(1604)
    lines = ["# TYPE wr_value gauge"]
    for i in range(POINTS):
        jump = 10 * SD if EVENT <= i < EVENT + 20 else 0.0  # up, then back to normal
        shift = 4 * SD if i >= EVENT else 0.0  # sustained
        for name, extra in (("healthy", 0.0), ("jump", jump), ("shift4", shift)):
            value = 100 + rng.gauss(0, SD) + extra
            lines.append(f'wr_value{{series="{name}"}} {value!r} {START + i * STEP}')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def backends(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Prometheus, Alertmanager]]:
    data = tmp_path_factory.mktemp("rules-tsdb") / "data"
    backfill_openmetrics(_history(), data)
    with (
        run_prometheus(prometheus_config(), data_dir=data) as prom,
        run_alertmanager(AM_CONFIG) as am,
    ):
        yield prom, am


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _service(tmp_path: Path, prom: Prometheus, am: Alertmanager, clock: Clock) -> Service:
    cfg: dict[str, Any] = {
        "prometheus": {"url": prom.url},
        "alertmanager": {"url": am.url, "alert_ttl": "3h"},
        "database": f"sqlite:///{tmp_path / 'detect.db'}",
        "watches": [
            {
                "name": "errors_up",
                "query": 'wr_value{series="jump"}',
                "step": "1m",
                "direction": "up",
            },
            {
                "name": "budget",
                "query": 'wr_value{series=~"healthy|shift4"}',
                "step": "1m",
                "false_alarms": "1/week",
            },
        ],
    }
    return Service(parse_config(cfg), clock=clock)


@pytest.mark.timeout(300)
def test_direction_and_budget_on_a_real_prometheus_and_alertmanager(
    tmp_path: Path, backends: tuple[Prometheus, Alertmanager]
) -> None:
    prom, am = backends
    clock = Clock(t_of(WARM))
    svc = _service(tmp_path, prom, am, clock)
    assert all(history_seconds(w) >= (WARM - 1) * STEP for w in svc.config.watches)
    episodes: dict[str, list[float]] = {}
    try:
        polls = [*range(WARM, EVENT, 10), *range(EVENT, POINTS)]
        for i in polls:
            clock.t = t_of(i)
            for watch in ("errors_up", "budget"):
                svc.tick_watch(watch)
                for st in svc.watches[watch].series.values():
                    name = st.labels["series"]
                    starts = episodes.setdefault(name, [])
                    if st.firing_since is not None and st.firing_since not in starts:
                        starts.append(st.firing_since)
            if i == EVENT - 1 or i == polls[polls.index(EVENT) - 1]:
                healthy = _series(svc, "budget", "healthy")
                assert not healthy.detector.warming_up
                assert healthy.last_breach_t is None, "a breaching point on a healthy day"
        svc.deliver_outbox()
    finally:
        svc.stop()
    assert episodes["healthy"] == []
    (jump_start,) = episodes["jump"]  # the jump alerts once; its recovery never does
    assert _series(svc, "errors_up", "jump").firing_since is None  # and it resolved
    assert t_of(EVENT) <= jump_start <= t_of(EVENT + 5)
    (shift_start,) = episodes["shift4"]
    assert t_of(EVENT) <= shift_start <= t_of(EVENT + 10)
    firing = {a["labels"]["series"] for a in am.alerts() if a["labels"].get("alertname")}
    assert "healthy" not in firing and "shift4" in firing


def _series(svc: Service, watch: str, name: str) -> Any:
    return next(st for st in svc.watches[watch].series.values() if st.labels["series"] == name)
