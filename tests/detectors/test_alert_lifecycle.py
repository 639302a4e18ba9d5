"""When a series' alert fires, stays firing and resolves, with scripted scores.

The ensemble scores the start of an episode and then rests; AlertManager sends a
group only after ``group_wait``. ``keep_firing_for`` is what makes the two meet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from sloplane.detect.config import parse_config
from sloplane.detect.routes import watch_status
from sloplane.detect.service import SeriesState, Service
from sloplane.detect.store import utc_iso
from sloplane.detectors.base import Detector
from sloplane.detectors.detectors import make_detector

STEP = 10.0
T0 = 1_700_000_000.0


class Scripted(Detector):
    """Scores read from a list, one per point."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__()
        self.scores: Iterator[float] = iter(scores)

    def _update(self, t: float, x: float) -> float:
        return next(self.scores)


def _service(tmp_path: Path, **watch: Any) -> Service:
    cfg = parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": "http://127.0.0.1:1", "resend_every": "30s"},
            "database": f"sqlite:///{tmp_path / 'd.db'}",
            "watches": [
                {
                    "name": "w",
                    "query": "up",
                    "step": "10s",
                    "threshold": 0.5,
                    "consecutive": 1,
                    **watch,
                }
            ],
        }
    )
    return Service(cfg)


def _play(svc: Service, scores: list[float]) -> list[str]:
    """Feed one point per step; the alert state after each: "-" quiet, "F" firing."""
    ws = svc.watches["w"]
    st = ws.series["s"] = SeriesState({"instance": "a"}, Scripted(scores))
    states = []
    for i in range(len(scores)):
        t = T0 + i * STEP
        svc.poller.feed(st, ws.config, [(t, 1.0)])
        svc.poller.evaluate(ws, st, t)
        states.append("F" if st.firing_since is not None else "-")
    return states


def _sent(svc: Service) -> list[str]:
    """Each alert queued for AlertManager, in order: a resolved one ends when it is sent,
    a firing one ``alert_ttl`` later."""
    rows = svc.store.pending(limit=1000)
    ends = [(json.loads(r.payload)[0]["endsAt"], utc_iso(r.created)) for r in rows]
    return ["resolved" if end == sent else "firing" for end, sent in ends]


def test_a_one_point_breach_keeps_firing_for_the_hold_then_resolves(tmp_path: Path) -> None:
    svc = _service(tmp_path, keep_firing_for="1m")
    states = _play(svc, [0, 0, 1.0, 0, 0, 0, 0, 0, 0, 0, 0])
    #                    0  1  2    3  4  5  6  7  8 (60s after the breach) ...
    assert "".join(states) == "--FFFFFF---"
    # fired at 20s, re-sent at 50s (resend_every 30s), resolved at 80s: 60s after the breach
    assert _sent(svc) == ["firing", "firing", "resolved"]
    svc.stop()


def test_a_new_breach_during_the_hold_extends_it(tmp_path: Path) -> None:
    svc = _service(tmp_path, keep_firing_for="30s")
    states = _play(svc, [1.0, 0, 0, 0.9, 0, 0, 0, 0])
    assert "".join(states) == "FFFFFF--"
    svc.stop()


def test_keep_firing_for_0s_resolves_on_the_first_quiet_point(tmp_path: Path) -> None:
    svc = _service(tmp_path, keep_firing_for="0s")
    assert "".join(_play(svc, [0, 1.0, 0, 0])) == "-F--"
    svc.stop()


def test_a_query_that_selects_nothing_is_reported(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    ws = svc.watches["w"]
    assert watch_status(ws) == "not polled yet"
    ws.returned = 0
    assert watch_status(ws).startswith("no series")
    ws.returned = 2
    assert watch_status(ws) == "ok"
    ws.series["a"] = SeriesState({"instance": "a"}, make_detector("ensemble"))
    ws.series["b"] = SeriesState({"instance": "b"}, Scripted([]))  # never warming up
    assert watch_status(ws) == ("ok (1 of 2 series warming up, an unknown number of points left)")
    assert 'sloplane_detector_warming_up{watch="w"} 1.0' in generate_latest(svc.registry).decode()
    svc.stop()


@pytest.mark.parametrize(
    ("watch", "error"),
    [
        ({"step": "0s"}, "field 'step': 0s is shorter than the shortest step, 100ms"),
        ({"step": "1ms"}, "field 'step': 0.001s is shorter than the shortest step, 100ms"),
        ({"lookback": "0s"}, "field 'lookback': must be longer than 0s, got 0s"),
        ({"interval": 0}, "field 'interval': must be longer than 0s, got 0s"),
        ({"query": "demo_latency_seconds{"}, "field 'query': not valid PromQL"),
        (
            {"step": "200ms"},  # the default lookback, 1h, is 18,000 points at this step
            "field 'lookback': 3600s at step 0.2s is 18,000 points, more than the 11,000",
        ),
        ({"query": "  "}, "field 'query': not valid PromQL: empty query"),
    ],
)
def test_watch_values_that_cannot_work_are_refused(watch: dict[str, Any], error: str) -> None:
    from sloplane.errors import SpecError

    with pytest.raises(SpecError) as info:
        parse_config({"watches": [{"name": "w", "query": "up", **watch}]})
    assert error in str(info.value)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (
            {"prometheus": {"url": "127.0.0.1:9090"}},
            "field 'prometheus.url': '127.0.0.1:9090' is not",
        ),
        ({"alertmanager": {"url": "am:9093"}}, "field 'alertmanager.url': 'am:9093' is not"),
        ({"prometheus": {"timeout": "0s"}}, "field 'prometheus.timeout': must be longer than 0s"),
        ({"outbox_interval": "0s"}, "field 'outbox_interval': must be longer than 0s"),
        ({"database": "mysql://u:pw@db/x"}, "field 'database': 'mysql://u:***@db/x' is not a"),
        ({"database": "postgresql+psycopg2://db/x"}, "field 'database': 'postgresql+psycopg2:"),
        ({"database": "::"}, "field 'database': not a database URL: '::'"),
    ],
)
def test_urls_and_intervals_are_checked(raw: dict[str, Any], error: str) -> None:
    from sloplane.errors import SpecError

    with pytest.raises(SpecError) as info:
        parse_config(raw)
    assert error in str(info.value)


def test_event_counters_are_exported_at_zero_before_anything_happens(tmp_path: Path) -> None:
    """increase() over a counter that first appears at 35 is 0: so they start at 0."""
    from sloplane.detect.metric_names import ACTION_OUTCOMES
    from sloplane.detect.store import DRY_RUN, EXECUTED, FAILED, PENDING, REFUSED, UNKNOWN

    assert set(ACTION_OUTCOMES) == {EXECUTED, DRY_RUN, REFUSED, FAILED, PENDING, UNKNOWN}
    svc = _service(tmp_path)
    body = generate_latest(svc.registry).decode()
    for event in ("points", "poll_errors", "alerts_firing", "alerts_resolved"):
        assert f'sloplane_detector_events_total{{event="{event}",name="w"}} 0.0' in body
    assert 'sloplane_detector_events_total{event="outbox_errors",name="alertmanager"} 0.0' in body
    svc.stop()
