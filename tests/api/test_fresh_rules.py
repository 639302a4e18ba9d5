"""Issue 13: rules loaded minutes ago on a service with 20 days of history.

The raw counters are backfilled as TSDB blocks (``promtool tsdb create-blocks-from
openmetrics``) and continue live; the generated rules, the roll-up tier and its coverage
series included, "have run" for the last 20 minutes: their tier for that time is written
with ``sloplane backfill`` before Prometheus starts (without it the first 30d ratio
appears 10 to 13 minutes after the rules load). Their recorded 30d window then holds minutes of
a bad hour, so it reads "breached" (checked below: that is what the API used to show);
the coverage says the window is barely covered, so the API must answer from the source
queries over the whole window, agree with the weekly report, and be within 0.5% of the
true ratio computed from the counters themselves.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sloplane.reports.weeks import week_bounds, week_of
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO, EventsSLI
from tests.api.conftest import ADMIN, api
from tests.support.live_rules import rules_on_history
from tests.support.processes import Prometheus

pytestmark = pytest.mark.integration

SHOP = SLO(
    service="shop",
    name="availability",
    objective=99,
    sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
)
SHOP_PY = """
from sloplane.slo import SLO, EventsSLI

SLOS = [
    SLO(
        service="shop",
        name="availability",
        objective=99,
        sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
    )
]
"""
RULES_RAN = 1200  # seconds the rules "have run" before the test's Prometheus starts
NOW = int(time.time()) // 60 * 60
START = NOW - 20 * 86400
BAD_FROM = NOW - 2 * 3600  # the last two hours (and the live part): 5% errors
MINUTES = (NOW + 3600 - START) // 60


def _per_minute(i: int) -> tuple[int, int]:
    """(requests, errors) in minute ``i`` after START: busier and better by day."""
    t = START + 60 * i
    day = 8 <= (t // 3600) % 24 < 20
    requests = 1500 if day else 500
    ratio = 0.05 if t >= BAD_FROM else (0.002 if day else 0.006)
    return requests, round(requests * ratio)


def _cumulative() -> tuple[list[int], list[int]]:
    total, errors = [0], [0]
    for i in range(MINUTES):
        r, e = _per_minute(i)
        total.append(total[-1] + r)
        errors.append(errors[-1] + e)
    return total, errors


TOTAL, ERRORS = _cumulative()


def _index(at: float) -> int:
    return max(0, min(MINUTES, int(at - START) // 60))


def _counters(at: float) -> dict[str, float]:
    i = _index(at)
    return {
        'http_requests_total{code="500"}': ERRORS[i],
        'http_requests_total{code="200"}': TOTAL[i] - ERRORS[i],
    }


def _history() -> str:
    lines = ["# TYPE http_requests counter"]
    for t in range(START, NOW - 60, 60):
        for series, value in _counters(t).items():
            lines.append(f"{series} {value} {t}")
    return "\n".join(lines) + "\n"


def true_ratio(at: float) -> float:
    """Errors over requests in the 30 days before ``at`` (the data starts 20 days ago)."""
    i = _index(at)
    return ERRORS[i] / TOTAL[i]


def _wait_for_coverage(prom: Prometheus) -> float:
    # the long windows are composed in a 3m group; the tier of the last 20 minutes is
    # recorded, so its first evaluation composes them (without it: 10 to 13 minutes)
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        found = prom.query("slo:sli_coverage:ratio30d")
        if found and prom.query("slo:sli_error:ratio_rate30d"):
            return float(found[0]["value"][1])
        time.sleep(1)
    raise AssertionError("the coverage series never appeared: " + prom.log()[-2000:])


@pytest.mark.timeout(700)
def test_fresh_rules_are_not_breached_and_agree_with_the_report(tmp_path: Path) -> None:
    last = NOW - 120  # the last backfilled raw sample
    tier = (last - RULES_RAN, last)
    with rules_on_history(tmp_path, SHOP, SHOP_PY, _history(), _counters, tier) as prom:
        coverage = _wait_for_coverage(prom)
        assert 0 < coverage < 0.01
        # what the recorded window alone says: minutes of the bad hours, "breached"
        (recorded,) = prom.query("slo:sli_error:ratio_rate30d")
        assert float(recorded["value"][1]) > SHOP.error_budget
        catalog = Catalog.of([SHOP])
        with api(prom.url, tmp_path / "api.db", catalog, open_reads=True, cache_ttl=0) as c:
            _check_now(c.get("/api/v1/slos/shop-availability/status").json())
            _check_report(c)


def _check_now(body: dict) -> None:
    assert body["status"] != "breached", body
    assert body["source"] == "source_query", body
    window = next(w for w in body["windows"] if w["window"] == "30d")
    assert window["source"] == "source_query" and window["coverage_ratio"] < 0.01, window
    assert body["covered_seconds"] < 0.01 * 30 * 86400
    truth = true_ratio(body["evaluated_at"])
    assert body["error_ratio"] == pytest.approx(truth, rel=0.005), (body["error_ratio"], truth)


def _check_report(c: object) -> None:
    week = week_of(datetime.now(UTC) - timedelta(days=7))
    _, end = week_bounds(week, "UTC")
    auth = {"Authorization": f"Bearer {ADMIN}"}
    made = c.post(f"/api/v1/reports/all/{week}", headers=auth)  # type: ignore[attr-defined]
    assert made.status_code == 200, made.text
    report = c.get(f"/api/v1/reports/all/{week}").json()  # type: ignore[attr-defined]
    (row,) = report["slos"]
    status = c.get(  # type: ignore[attr-defined]
        "/api/v1/slos/shop-availability/status", params={"at": end.timestamp()}
    ).json()
    assert row["window_sli"] == pytest.approx(status["sli"], abs=1e-6), (row, status)
    truth = true_ratio(end.timestamp())
    assert 1 - row["window_sli"] == pytest.approx(truth, rel=0.005)
