"""Warm start and actionable alerts against a real Prometheus and a real AlertManager.

Prometheus starts on a TSDB backfilled with ``promtool tsdb create-blocks-from
openmetrics``: a day of one point a minute, with a level shift in its last
minutes. A service stopped before the shift and a new one started in the middle
of it stand for a restart of ``detect serve``: the new one reads the series'
history on its first poll and the alert reaches AlertManager right away,
carrying a description, the runbook and the dashboard.
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
POINTS = 1400  # more than the watch rules' warm-up (1,111 points) plus the 1h lookback
SHIFT_POINTS = 5  # the shift is this many points old when the new service starts
AM_CONFIG = """
route:
  receiver: default
  group_wait: 1s
receivers:
  - name: default
"""


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _history(end: int) -> str:
    start = end - (POINTS - 1) * STEP
    rng = random.Random(16)
    lines = ["# TYPE warm_errors gauge"]
    for i in range(POINTS):
        shift = 8.0 if i >= POINTS - SHIFT_POINTS else 0.0
        lines.append(
            f'warm_errors{{service="checkout"}} {20 + rng.gauss(0, 1) + shift!r} {start + i * STEP}'
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def backends(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Prometheus, Alertmanager, int]]:
    """The backends and the history's last timestamp, which the tests' clocks stand at.

    The end is taken here, not at import: the services' fake clocks stamp the alert's
    ``endsAt`` (clock + ``alert_ttl``, 5 min), and in a full run the module is imported
    long before this test runs; an end read at collection put ``endsAt`` in the past,
    so AlertManager took the alert as resolved and did not list it.
    """
    end = int(time.time()) // STEP * STEP - STEP
    data = tmp_path_factory.mktemp("warm-tsdb") / "data"
    backfill_openmetrics(_history(end), data)
    with (
        run_prometheus(prometheus_config(), data_dir=data) as prom,
        run_alertmanager(AM_CONFIG) as am,
    ):
        yield prom, am, end


def _config(tmp_path: Path, prom: Prometheus, am: Alertmanager) -> Any:
    return parse_config(
        {
            "prometheus": {"url": prom.url},
            "alertmanager": {"url": am.url},
            "database": f"sqlite:///{tmp_path / 'detect.db'}",
            "watches": [
                {
                    "name": "checkout_errors",
                    "query": "warm_errors",
                    "step": "1m",
                    "direction": "up",
                    "lower_bound": 0,
                    "runbook_url": "https://runbooks.example/checkout-errors",
                    "dashboard_url": "https://grafana.example/d/checkout",
                }
            ],
        }
    )


def _ours(am: Alertmanager) -> list[dict[str, Any]]:
    return [a for a in am.alerts() if a["labels"].get("watch") == "checkout_errors"]


@pytest.mark.timeout(120)
def test_a_restart_in_the_middle_of_a_level_shift_alerts_on_the_next_poll(
    tmp_path: Path, backends: tuple[Prometheus, Alertmanager, int]
) -> None:
    prom, am, end = backends
    cfg = _config(tmp_path, prom, am)
    before = Service(cfg, clock=Clock(end - (SHIFT_POINTS + 2) * STEP))
    try:
        before.tick_watch("checkout_errors")
        (st,) = before.watches["checkout_errors"].series.values()
        assert not st.detector.warming_up and st.firing_since is None
    finally:
        before.stop()
    assert _ours(am) == []

    after = Service(cfg, clock=Clock(end))  # restarted while the shift is under way
    try:
        after.tick_watch("checkout_errors")
        (st,) = after.watches["checkout_errors"].series.values()
        assert st.firing_since is not None
        after.deliver_outbox()
    finally:
        after.stop()
    (alert,) = _ours(am)
    notes = alert["annotations"]
    assert notes["runbook_url"] == "https://runbooks.example/checkout-errors"
    assert notes["dashboard_url"] == "https://grafana.example/d/checkout"
    text = notes["description"]
    assert text.startswith('Watch checkout_errors: warm_errors{service="checkout"} is above')
    assert "(the watch alerts on moves up)" in text and "the expected range is" in text
    assert "about 1 in " in text and text.endswith(".")
    lo, hi = (float(x) for x in notes["expected_range"].split(" .. "))
    assert 0 <= lo < hi < float(notes["value"])
