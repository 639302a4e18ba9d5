"""Warm start (issue 16, item 1): a series scores from its first live point.

Each new series is primed from its own history (one range query per poll that
finds new series), a series with too little history says how long it still
needs, and its evidence refuses actions until it is warm.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import generate_latest

from sloplane.clients.prometheus import PrometheusError
from sloplane.detect import poller
from sloplane.detect.config import parse_config
from sloplane.detect.routes import watch_status
from sloplane.detect.service import Service
from sloplane.detectors.labels import format_labels
from sloplane.detectors.watch import WARMUP_POINTS
from tests.detectors.fakes import HistoryProm

T0 = 1_700_000_040.0  # a whole minute
MIN = 60.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def noise(n: int, seed: int, level: float = 100.0, sd: float = 1.0) -> np.ndarray:
    return level + sd * np.random.default_rng(seed).standard_normal(n)


def points(values: np.ndarray, start: float = T0) -> list[tuple[float, float]]:
    return [(start + i * MIN, float(v)) for i, v in enumerate(values)]


def config(tmp_path: Path, **watch: Any) -> Any:
    return parse_config(
        {
            "prometheus": {"url": "http://127.0.0.1:1"},
            "alertmanager": {"url": None},
            "database": f"sqlite:///{tmp_path / 'detect.db'}",
            "watches": [{"name": "w", "query": "m", "step": "1m", **watch}],
        }
    )


@pytest.fixture
def made() -> Iterator[list[Service]]:
    services: list[Service] = []
    yield services
    for svc in services:
        svc.stop()


def service(tmp_path: Path, prom: HistoryProm, now: float, made: list[Service], **w: Any) -> Any:
    svc = Service(config(tmp_path, **w), clock=Clock(now), prom=prom)
    made.append(svc)
    return svc


N = WARMUP_POINTS + 100  # more than the warm-up and the 1h lookback


def test_first_poll_primes_every_series_from_history(tmp_path: Path, made: list[Service]) -> None:
    prom = HistoryProm()
    for i in range(2):
        prom.add({"instance": str(i)}, points(noise(N, seed=i)))
    now = T0 + (N - 1) * MIN
    svc = service(tmp_path, prom, now, made)
    svc.tick_watch("w")
    ws = svc.watches["w"]
    assert len(ws.series) == 2 and ws.warming_up() == 0 and ws.warmup_left() == 0
    # the newest point of every series, then their history in one read (few series)
    assert len(prom.range_calls) == 2
    (_, live_start, _, _), (_, start, hist_end, _) = prom.range_calls
    assert live_start == now and hist_end == now - MIN
    assert now - start >= WARMUP_POINTS * MIN
    assert watch_status(ws) == "ok"
    assert svc.poller.fresh_evidence("w", {"instance": "0"}).data_error is None


def test_many_new_series_read_their_history_in_slices_with_the_same_scores(
    tmp_path: Path, made: list[Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With many new series the history comes in consecutive time slices (bounded
    memory at start); each series' detector ends exactly where one read leaves it."""
    ends: dict[str, Any] = {}
    for budget in (10**9, 200):
        monkeypatch.setattr(poller, "PRIME_POINTS", budget)
        prom = HistoryProm()
        for i in range(3):
            prom.add({"instance": str(i)}, points(noise(N, seed=i)))
        now = T0 + (N - 1) * MIN
        (tmp_path / str(budget)).mkdir()
        svc = service(tmp_path / str(budget), prom, now, made)
        svc.tick_watch("w")
        history = prom.range_calls[1:]
        window = WARMUP_POINTS + 60 + 1  # the warm-up and the default 1h lookback, read
        assert len(history) == (1 if budget > 10**6 else math.ceil((window - 1) / 66))
        for (_, _, a_end, _), (_, b_start, _, _) in itertools.pairwise(history):
            assert b_start == a_end + MIN  # no gap, no overlap
        assert history[-1][2] == now - MIN
        ws = svc.watches["w"]
        ends[str(budget)] = {k: (st.last_score, st.expected) for k, st in ws.series.items()}
        assert ws.warming_up() == 0 and svc.counters[("points", "w")] == 3 * window
    assert ends["200"] == ends[str(10**9)]


def test_a_series_that_appears_later_is_primed_with_one_query(
    tmp_path: Path, made: list[Service]
) -> None:
    prom = HistoryProm()
    prom.add({"instance": "old"}, points(noise(N, seed=1)))
    now = T0 + (N - 2) * MIN
    svc = service(tmp_path, prom, now, made)
    svc.tick_watch("w")
    # two new series show up with their own (longer) history; the old one goes on
    for name, seed in (("new1", 2), ("new2", 3)):
        prom.add({"instance": name}, points(noise(N, seed=seed)))
    svc.clock.t = now + MIN
    before = len(prom.range_calls)
    svc.tick_watch("w")
    calls = prom.range_calls[before:]
    assert len(calls) == 2  # the new points, then one history read for both series
    (_, live_start, _, _), (_, hist_start, hist_end, _) = calls
    assert hist_end < live_start and live_start - hist_start >= WARMUP_POINTS * MIN
    ws = svc.watches["w"]
    assert sorted(ws.series) == [format_labels({"instance": n}) for n in ("new1", "new2", "old")]
    assert ws.warming_up() == 0
    for st in ws.series.values():
        assert st.last_t == now + MIN
    # every point was scored once: the warm-up window and one live point per series
    window = WARMUP_POINTS + 60 + 1  # the default lookback, 1h, is scored warm
    assert svc.counters[("points", "w")] == (window + 1) + 2 * window


def test_short_history_reports_remaining_points_and_refuses_actions(
    tmp_path: Path, made: list[Service]
) -> None:
    have = 300
    prom = HistoryProm()
    prom.add({"instance": "a"}, points(noise(have, seed=4)))
    svc = service(tmp_path, prom, T0 + (have - 1) * MIN, made)
    svc.tick_watch("w")
    ws = svc.watches["w"]
    (st,) = ws.series.values()
    left = ws.warmup_left()
    assert left is not None and 0 < left <= WARMUP_POINTS - have
    assert st.detector.warmup_left == left  # type: ignore[attr-defined]
    status = watch_status(ws)
    assert status.startswith("ok (1 of 1 series warming up, ") and f"{left:,} points" in status
    text = generate_latest(svc.registry).decode()
    assert f'sloplane_detector_warmup_remaining_points{{watch="w"}} {float(left)}' in text
    assert f'sloplane_detector_warmup_eta_seconds{{watch="w"}} {float(left * MIN)}' in text
    evidence = svc.poller.fresh_evidence("w", {"instance": "a"})
    assert evidence.data_error is not None and "still warming up" in evidence.data_error
    assert f"{left:,} points" in evidence.data_error


def test_unknown_remaining_points_are_nan_not_zero(tmp_path: Path, made: list[Service]) -> None:
    """A bare detector cannot say how long it still learns: the gauge says so (NaN)."""
    prom = HistoryProm()
    prom.add({"instance": "a"}, points(noise(5, seed=5)))
    svc = service(tmp_path, prom, T0 + 4 * MIN, made, detector="ewma", threshold=0.9)
    svc.tick_watch("w")
    assert svc.watches["w"].warmup_left() is None
    text = generate_latest(svc.registry).decode()
    assert 'sloplane_detector_warmup_remaining_points{watch="w"} NaN' in text
    assert "an unknown number of points" in watch_status(svc.watches["w"])


def test_a_restart_during_a_level_shift_alerts_on_the_first_poll(
    tmp_path: Path, made: list[Service]
) -> None:
    """The shift began 6 minutes before the start: history shows it, the alert fires."""
    values = noise(N, seed=6)
    values[-6:] += 8.0  # 8 sigma up, still under way
    prom = HistoryProm()
    prom.add({"instance": "a"}, points(values))
    svc = service(tmp_path, prom, T0 + (N - 1) * MIN, made, direction="up")
    svc.tick_watch("w")
    (st,) = svc.watches["w"].series.values()
    assert st.firing_since is not None
    assert not math.isnan(st.last_value) and st.expected is not None
    assert st.last_value > st.expected[1]


class HistoryDown(HistoryProm):
    """Answers the live reads, fails every read that ends before the live range."""

    def __init__(self) -> None:
        super().__init__()
        self.live_from = -math.inf  # nothing fails until the test says

    def range(self, query: str, start: float, end: float, step: float) -> list[Any]:
        if end < self.live_from:
            self.range_calls.append((query, start, end, step))
            raise PrometheusError("http://history", "query timed out in expression evaluation")
        return super().range(query, start, end, step)


def test_a_failed_history_read_warms_live_and_refuses_actions(
    tmp_path: Path, made: list[Service], caplog: pytest.LogCaptureFixture
) -> None:
    prom = HistoryDown()
    prom.add({"instance": "old"}, points(noise(N, seed=7)))
    now = T0 + (N - 2) * MIN
    svc = service(tmp_path, prom, now, made)
    svc.tick_watch("w")
    prom.add({"instance": "new"}, points(noise(N, seed=8)))
    prom.live_from = now + MIN
    svc.clock.t = now + MIN
    with caplog.at_level(logging.WARNING, logger="sloplane.detectors"):
        svc.tick_watch("w")
    assert "the history of 1 new series could not be read" in caplog.text
    ws = svc.watches["w"]
    assert ws.error is None  # the live poll succeeded: the watch is up
    new = ws.series[format_labels({"instance": "new"})]
    assert new.detector.warming_up and new.last_t == now + MIN
    evidence = svc.poller.fresh_evidence("w", {"instance": "new"})
    assert evidence.data_error is not None and "still warming up" in evidence.data_error
    assert svc.poller.fresh_evidence("w", {"instance": "old"}).data_error is None
