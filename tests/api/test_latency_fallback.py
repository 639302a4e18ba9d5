"""Latency SLOs answered from the source queries agree with the recorded-rule path.

Each SLO in latency_dataset.py comes twice with one SLI: with its recorded series (the
generated rules' values, see test_dataset.py) and without (the API falls back to the
source queries). Whatever the spelling of the bucket bound, both must give the same
numbers, and a threshold that names no bucket is 100% slow on both, not "no data".

Recorded windows over 2h are sums of 5m samples with both ends included, so they count
one 5m sample more than the window holds; the source queries count the window exactly.
Those windows are compared within 5m / window (the extra sample is never busier than the
window here); shorter windows and the SLO window (longer than the data) must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sloplane.slo import naming
from sloplane.slo.durations import parse_duration
from sloplane.slo.model import SLO
from tests.api.conftest import api
from tests.api.dataset import DATA_START, W46_END, ts
from tests.api.latency_dataset import (
    BURN_END,
    BURN_START,
    LATENCY_CATALOG,
    PAIRS,
    TOTAL_RATE,
    TYPO,
)
from tests.support.processes import Prometheus

pytestmark = pytest.mark.integration

TIMES = [W46_END, ts("2026-11-12T08:00"), ts("2026-11-04T12:00")]


def rel(window: int) -> float:
    return 1e-6 if window <= naming.SHORT_WINDOW_MAX else naming.BASE_WINDOW / window


@pytest.fixture(scope="module")
def latency_client(
    latency_prom: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    db: Path = tmp_path_factory.mktemp("latency-api") / "api.db"
    with api(latency_prom.url, db, LATENCY_CATALOG, open_reads=True) as c:
        yield c


def _status(client: TestClient, slo: SLO, at: float) -> dict:
    r = client.get(f"/api/v1/slos/{slo.id}/status", params={"at": at})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _pair_ids(pair: tuple[SLO, SLO]) -> str:
    return pair[1].id


@pytest.mark.parametrize("at", TIMES)
@pytest.mark.parametrize("pair", PAIRS, ids=_pair_ids)
def test_fallback_status_equals_the_recorded_path(
    latency_client: TestClient, pair: tuple[SLO, SLO], at: float
) -> None:
    recorded_slo, fallback_slo = pair
    recorded = _status(latency_client, recorded_slo, at)
    fallback = _status(latency_client, fallback_slo, at)
    assert (recorded["source"], fallback["source"]) == ("recording_rules", "source_query")
    assert recorded["error_ratio"] is not None
    window = recorded_slo.window
    assert fallback["error_ratio"] == pytest.approx(recorded["error_ratio"], rel=rel(window))
    assert fallback["sli"] == pytest.approx(recorded["sli"], rel=rel(window))
    for key in ("consumed_ratio", "consumed_minutes", "remaining_ratio", "remaining_minutes"):
        assert fallback["error_budget"][key] == pytest.approx(
            recorded["error_budget"][key], rel=rel(window)
        ), key
    assert fallback["current_burn_rate"] == pytest.approx(recorded["current_burn_rate"], rel=1e-6)
    assert len(fallback["burn_rates"]) == len(recorded["burn_rates"]) == 4
    for f, r in zip(fallback["burn_rates"], recorded["burn_rates"], strict=True):
        for key, window_key in (
            ("long_burn_rate", "long_window"),
            ("short_burn_rate", "short_window"),
        ):
            w = parse_duration(r[window_key])
            assert r[key] is not None
            assert f[key] == pytest.approx(r[key], rel=rel(w)), (r[window_key], key)
        assert f["burning"] == r["burning"]
    assert fallback["status"] == recorded["status"]


@pytest.mark.parametrize("pair", PAIRS, ids=_pair_ids)
def test_fallback_window_ratio_by_hand(latency_client: TestClient, pair: tuple[SLO, SLO]) -> None:
    _, fallback_slo = pair
    body = _status(latency_client, fallback_slo, W46_END)
    span = W46_END - DATA_START  # the 30d window holds all the data
    slow = 0.05 * span + 0.25 * 86400 + 1.95 * (BURN_END - BURN_START)
    expected = 1.0 if fallback_slo.sli == TYPO.sli else slow / (TOTAL_RATE * span)
    assert body["error_ratio"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("pair", PAIRS, ids=_pair_ids)
def test_fallback_history_equals_the_recorded_path(
    latency_client: TestClient, pair: tuple[SLO, SLO]
) -> None:
    params = {"start": "2026-11-12T04:00:00Z", "end": "2026-11-12T12:00:00Z", "step": "30m"}
    bodies = [
        latency_client.get(f"/api/v1/slos/{slo.id}/history", params=params).json() for slo in pair
    ]
    recorded, fallback = bodies
    assert (recorded["source"], fallback["source"]) == ("recording_rules", "source_query")
    assert len(fallback["points"]) == len(recorded["points"]) == 17
    burn_window = parse_duration(recorded["burn_rate_window"])
    for f, r in zip(fallback["points"], recorded["points"], strict=True):
        assert f["t"] == r["t"]
        assert f["sli"] == pytest.approx(r["sli"], rel=rel(pair[0].window))
        assert f["budget_remaining_ratio"] == pytest.approx(
            r["budget_remaining_ratio"], rel=rel(pair[0].window)
        )
        assert f["burn_rate"] == pytest.approx(r["burn_rate"], rel=rel(burn_window))
