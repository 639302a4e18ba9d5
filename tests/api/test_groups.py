"""Issue 13, groups: a ``group_by`` SLO's status names the worst group, ``/groups`` lists
every group worst first, and the weekly report has a row per failing group.

Ten days of raw counters for two routes are backfilled into a real Prometheus (no rules:
every number comes from the source queries); /checkout fails 3% of requests, /home 0.1%.
Before, the status took each window's worst group separately and named none.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from sloplane.reports.weeks import week_of
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO, EventsSLI
from tests.api.conftest import ADMIN, api
from tests.support.processes import backfill_openmetrics, prometheus_config, run_prometheus

pytestmark = pytest.mark.integration

WEB = SLO(
    service="web",
    name="availability",
    objective=99,
    sli=EventsSLI(errors='req_total{code="500"}', total="req_total"),
    group_by=("route",),
)
END = int(time.time()) // 60 * 60 - 120
START = END - 10 * 86400
ROUTES = {"/checkout": (600, 18), "/home": (1000, 1)}  # requests and errors per minute


def _history() -> str:
    lines = ["# TYPE req counter"]
    for i, t in enumerate(range(START, END + 1, 60)):
        for route, (requests, errors) in ROUTES.items():
            lines.append(f'req_total{{route="{route}",code="500"}} {i * errors} {t}')
            lines.append(f'req_total{{route="{route}",code="200"}} {i * (requests - errors)} {t}')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("groups")
    backfill_openmetrics(_history(), tmp / "data")
    with (
        run_prometheus(prometheus_config(), data_dir=tmp / "data") as prom,
        api(prom.url, tmp / "api.db", Catalog.of([WEB]), open_reads=True, cache_ttl=0) as c,
    ):
        yield c


def test_status_names_the_worst_group(client: TestClient) -> None:
    body = client.get("/api/v1/slos/web-availability/status", params={"at": END}).json()
    assert body["status"] == "breached" and body["group"] == {"route": "/checkout"}, body
    assert body["groups"] == 2
    assert body["sli"] == pytest.approx(1 - 18 / 600, rel=1e-3)
    # every window of the answer is the same group's: the 5m burn is /checkout's too
    assert body["current_burn_rate"] == pytest.approx(3.0, rel=1e-3)


def test_groups_lists_every_group_worst_first(client: TestClient) -> None:
    groups = client.get("/api/v1/slos/web-availability/groups", params={"at": END}).json()
    assert [(g["group"]["route"], g["status"]) for g in groups] == [
        ("/checkout", "breached"),
        ("/home", "ok"),
    ]
    assert groups[1]["sli"] == pytest.approx(1 - 1 / 1000, rel=1e-4)


def test_report_has_a_row_per_failing_group(client: TestClient) -> None:
    week = week_of(datetime.now(UTC) - timedelta(days=7))
    made = client.post(f"/api/v1/reports/all/{week}", headers={"Authorization": f"Bearer {ADMIN}"})
    assert made.status_code == 200, made.text
    (row,) = client.get(f"/api/v1/reports/all/{week}").json()["slos"]
    assert [g["group"] for g in row["failing_groups"]] == [{"route": "/checkout"}]
    assert row["failing_groups"][0]["week_sli"] == pytest.approx(1 - 18 / 600, rel=1e-3)
    markdown = client.get(f"/api/v1/reports/all/{week}", params={"format": "md"}).text
    assert "route=/checkout" in markdown and "route=/home" not in markdown


def test_history_of_one_group(client: TestClient) -> None:
    path = "/api/v1/slos/web-availability/history"
    params = {"start": END - 3600, "end": END, "step": 600}
    home = client.get(path, params={**params, "group": "route=/home"}).json()
    assert home["group"] == {"route": "/home"}
    assert {round(p["sli"], 6) for p in home["points"]} == {round(1 - 1 / 1000, 6)}
    worst = client.get(path, params=params).json()
    assert worst["group"] is None
    assert {round(p["sli"], 6) for p in worst["points"]} == {round(1 - 18 / 600, 6)}
    bad = client.get(path, params={**params, "group": "team=x"})
    assert bad.status_code == 422 and bad.json()["field"] == "group"
