"""Status, history and summaries against the backfilled Prometheus, checked by hand.

Hand arithmetic (see dataset.py). Long windows are sums of 5m samples with both ends
included, so one 5m sample more than the window holds is counted: tolerances are 0.1%
relative, far below any difference the assertions distinguish.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.dataset import DATA_START, W46_END, ts

pytestmark = pytest.mark.integration

REL = 1e-3
CHECKOUT = "/api/v1/slos/checkout-availability"
SEARCH = "/api/v1/slos/search-availability"

# errors over the 30d window ending W46_END: W45 8 640, W46 7 200 + 10 368
WINDOW_ERRORS = 8640 + 7200 + 10368
WINDOW_EVENTS = 10 * 14 * 86400  # recorded series start at W45 start


def test_status_from_recorded_series_at_week_end(client: TestClient) -> None:
    r = client.get(f"{CHECKOUT}/status", params={"at": W46_END})
    assert r.status_code == 200, r.text
    body = r.json()
    ratio = WINDOW_ERRORS / WINDOW_EVENTS  # 0.0021667
    assert body["source"] == "recording_rules"
    assert body["error_ratio"] == pytest.approx(ratio, rel=REL)
    assert body["sli"] == pytest.approx(1 - ratio, rel=REL)
    budget = body["error_budget"]
    assert budget["total_ratio"] == pytest.approx(0.01)
    assert budget["total_minutes"] == pytest.approx(432.0)  # 1% of 30 days
    assert budget["consumed_ratio"] == pytest.approx(ratio / 0.01, rel=REL)  # 21.7%
    assert budget["consumed_minutes"] == pytest.approx(ratio / 0.01 * 432, rel=REL)  # 93.6 min
    assert budget["remaining_ratio"] == pytest.approx(1 - ratio / 0.01, rel=REL)
    assert body["current_burn_rate"] == 0
    assert [b["burning"] for b in body["burn_rates"]] == [False] * 4
    assert body["firing_alerts"] == []
    assert body["status"] == "ok"


def test_status_during_the_burn_is_at_risk_with_the_page_alert(client: TestClient) -> None:
    body = client.get(f"{CHECKOUT}/status", params={"at": "2026-11-10T12:50:00Z"}).json()
    assert body["current_burn_rate"] == pytest.approx(20.0)  # 2/s of 10/s = 20% = 20 x 1%
    page_1h = body["burn_rates"][0]
    assert (page_1h["severity"], page_1h["long_window"], page_1h["short_window"]) == (
        "page",
        "1h",
        "5m",
    )
    # 1h window (11:50, 12:50]: 50 min at 2/s = 6000 errors of 36 000 -> 16.67% -> burn 16.67
    assert page_1h["long_burn_rate"] == pytest.approx(6000 / 36000 / 0.01, rel=REL)
    assert page_1h["threshold"] == pytest.approx(14.4)
    assert page_1h["burning"] is True
    assert [a["severity"] for a in body["firing_alerts"]] == ["page"]
    assert body["status"] == "at_risk"


def test_falls_back_to_source_queries_and_says_so(client: TestClient) -> None:
    body = client.get(f"{SEARCH}/status", params={"at": W46_END}).json()
    assert body["source"] == "source_query"
    # rate over 30d covers all data: errors 0.04/s for W46 of 5/s since DATA_START
    ratio = 0.04 * 7 * 86400 / (5 * (W46_END - DATA_START))
    assert body["error_ratio"] == pytest.approx(ratio, rel=REL)
    assert body["status"] == "ok"


def test_history_of_burn_and_budget(client: TestClient) -> None:
    r = client.get(
        f"{CHECKOUT}/history",
        params={"start": "2026-11-10T11:00:00Z", "end": "2026-11-10T14:00:00Z", "step": "1h"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "recording_rules" and body["burn_rate_window"] == "1h"
    points = {p["t"]: p for p in body["points"]}
    assert points[ts("2026-11-10T12:00")]["burn_rate"] == 0
    assert points[ts("2026-11-10T13:00")]["burn_rate"] == pytest.approx(20.0)
    assert points[ts("2026-11-10T14:00")]["burn_rate"] == 0
    # budget before and after the hour: W45's 8 640 errors, then + 7 200
    before = 8640 / (10 * (ts("2026-11-10T12:00") - ts("2026-11-02T00:00")))
    after = (8640 + 7200) / (10 * (ts("2026-11-10T13:00") - ts("2026-11-02T00:00")))
    assert points[ts("2026-11-10T12:00")]["budget_remaining_ratio"] == pytest.approx(
        1 - before / 0.01, rel=REL
    )
    assert points[ts("2026-11-10T13:00")]["budget_remaining_ratio"] == pytest.approx(
        1 - after / 0.01, rel=REL
    )


def test_list_filters_and_summaries(client: TestClient) -> None:
    assert [s["id"] for s in client.get("/api/v1/slos").json()] == [
        "checkout-availability",
        "search-availability",
    ]
    assert [s["id"] for s in client.get("/api/v1/slos", params={"team": "payments"}).json()] == [
        "checkout-availability"
    ]
    at_risk = client.get("/api/v1/slos", params={"status": "at_risk", "at": "2026-11-10T12:50:00Z"})
    assert [s["id"] for s in at_risk.json()] == ["checkout-availability"]
    teams = client.get("/api/v1/teams", params={"at": W46_END}).json()
    assert [(t["key"], t["slos"], t["ok"]) for t in teams] == [
        ("discovery", 1, 1),
        ("payments", 1, 1),
    ]
    svc = client.get("/api/v1/services/checkout", params={"at": W46_END}).json()
    assert svc["worst_budget_remaining_ratio"] == pytest.approx(
        1 - WINDOW_ERRORS / WINDOW_EVENTS / 0.01, rel=REL
    )


def test_errors_are_problem_documents(client: TestClient) -> None:
    r = client.get("/api/v1/slos/nope/status")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.get(
        f"{CHECKOUT}/history",
        params={"start": "2000-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    )
    assert r.status_code == 422 and r.json()["field"] == "start"
    r = client.get(
        f"{CHECKOUT}/history",
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z", "step": "1s"},
    )
    assert r.status_code == 422 and r.json()["field"] == "step"
    r = client.get(f"{CHECKOUT}/status", params={"at": "yesterday-ish"})
    assert r.status_code == 422 and r.json()["field"] == "at"
    r = client.post(
        "/api/v1/tokens", content=b"x" * 100_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_metrics_and_health(client: TestClient) -> None:
    client.get(f"{CHECKOUT}/status", params={"at": W46_END})
    metrics = client.get("/metrics").text
    assert 'route="/api/v1/slos/{slo_id}/status"' in metrics
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "database": "ok",
        "prometheus": "ok",
    }
