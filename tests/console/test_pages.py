"""Every page renders from API-shaped answers, without Prometheus: a stand-in service whose
statuses are made up here, mounted exactly as ``sloplane serve`` mounts the console."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sloplane.api.app import create_app
from sloplane.api.schemas import ErrorBudget, SLOStatus
from sloplane.api.settings import ApiSettings
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO, EventsSLI

SLOS = [
    SLO(
        service=f"svc{i % 3}",
        name=f"avail-{i}",
        objective=99.9,
        team="t" if i % 2 else None,
        sli=EventsSLI(errors='e{code="5"}', total="e"),
    )
    for i in range(6)
]


def _status(slo: SLO, remaining: float | None) -> SLOStatus:
    return SLOStatus(
        id=slo.id, service=slo.service, name=slo.name, team=slo.team,
        objective=slo.objective, window=slo.window_text,
        sli=None if remaining is None else 1 - (1 - remaining) * slo.error_budget,
        error_ratio=None if remaining is None else (1 - remaining) * slo.error_budget,
        error_budget=ErrorBudget(
            total_ratio=slo.error_budget, total_minutes=slo.budget_minutes,
            consumed_ratio=None if remaining is None else 1 - remaining,
            consumed_minutes=None,
            remaining_ratio=remaining,
            remaining_minutes=None if remaining is None else remaining * slo.budget_minutes,
        ),
        current_burn_rate=None if remaining is None else 2.5,
        burn_rates=[], firing_alerts=[],
        status="no_data" if remaining is None else "breached" if remaining < 0 else "ok",
        source="recording_rules", evaluated_at=1.7e9,
    )  # fmt: skip


REMAINING = [0.5, -0.2, None, 0.9, 0.1, 0.75]


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = ApiSettings(
        "http://127.0.0.1:9", f"sqlite:///{tmp_path / 'db'}", open_reads=True, schedule=None
    )
    app = create_app(Catalog.of(SLOS), settings)
    fixed = {s.id: _status(s, r) for s, r in zip(SLOS, REMAINING, strict=True)}

    async def statuses(slos: Any, at: float | None = None) -> list[SLOStatus]:
        return [fixed[s.id] for s in slos]

    async def status_json(slo: SLO, at: float | None = None) -> bytes:
        return fixed[slo.id].model_dump_json().encode()

    with TestClient(app) as c:
        app.state.sloplane.service.statuses = statuses
        app.state.sloplane.service.status_json = status_json
        yield c


def test_list_is_worst_first_with_exact_values(client: TestClient) -> None:
    r = client.get("/ui/")
    assert r.status_code == 200
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    order = [line.split('"')[1] for line in r.text.split("<tr data-slo=")[1:]]
    # breached, then no data, then ok by the least budget left
    assert order == ["svc1-avail-1", "svc2-avail-2", "svc1-avail-4", "svc0-avail-0",
                     "svc2-avail-5", "svc0-avail-3"]  # fmt: skip
    assert 'data-field="remaining" data-value="-0.2"' in r.text
    # when the statuses were evaluated (the API may serve the last ones while refreshing)
    assert 'data-oldest="1700000000.0" data-newest="1700000000.0"' in r.text
    filtered = client.get("/ui/", params={"status": "breached", "service": "svc1"})
    assert filtered.text.count("<tr data-slo=") == 1


def test_pages_render_and_degrade_without_history(client: TestClient) -> None:
    r = client.get("/ui/slos/svc0-avail-0")
    assert r.status_code == 200
    # the history needs Prometheus, which is not there: said, not a 500
    assert "The history could not be read" in r.text
    assert 'data-degraded="groups"' in r.text
    # so does ALERTS: the page falls back to the stored reports and names what is missing
    assert "<code>ALERTS</code> history could not be read" in r.text
    assert 'data-degraded="alert-intervals"' in r.text
    for path in ("/ui/services", "/ui/teams", "/ui/services/svc0", "/ui/teams/t", "/ui/reports",
                 "/ui/decisions", "/ui/login"):  # fmt: skip
        assert client.get(path).status_code == 200, path
    assert client.get("/ui/slos/nope").status_code == 404
    assert client.get("/ui/services/nope").status_code == 404


def test_admin_forms_need_csrf_and_admin(client: TestClient) -> None:
    # --open-reads: pages without a login, but no admin control and a "Log in" link
    reports = client.get("/ui/reports").text
    assert 'id="generate"' not in reports and 'href="/ui/login"' in reports
    r = client.post("/ui/reports/generate", data={"scope": "all", "week": "2026-W46"})
    assert r.status_code == 403
    page = client.get("/ui/login").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    r = client.post("/ui/reports/generate", data={"scope": "all", "week": "2026-W46", "csrf": csrf})
    assert r.status_code == 403 and "admin token" in r.text  # open reads, but no admin


def test_prometheus_down_is_one_clear_message(tmp_path: Path) -> None:
    settings = ApiSettings(
        "http://127.0.0.1:9", f"sqlite:///{tmp_path / 'db'}", open_reads=True, schedule=None
    )
    with TestClient(create_app(Catalog.of(SLOS), settings)) as c:
        r = c.get("/ui/")
    assert r.status_code == 503
    assert "Could not read the SLO statuses" in r.text
    assert "The API answered 503" in r.text and "127.0.0.1:9" in r.text
    assert "Traceback" not in r.text


def test_groups_coverage_and_worst_group_when_the_api_gives_them(client: TestClient) -> None:
    """The shapes of the API's group_by answers (``group``, ``groups``, ``windows``): a
    route with that shape is added to the app, as the API will serve it."""
    app: Any = client.app
    slo = SLOS[0]
    worst = _status(slo, -0.5).model_dump(mode="json")
    fine = _status(slo, 0.8).model_dump(mode="json")
    for doc, job in ((worst, "a"), (fine, "b")):
        doc.update(group={"job": job}, groups=2)
        doc["windows"] = [{"window": "30d", "source": "recording_rules", "coverage_ratio": 0.4}]

    @app.get("/api/v1/slos/{slo_id}/groups")
    async def groups(slo_id: str) -> list[dict[str, Any]]:
        return [worst, fine]

    app.router.routes.insert(0, app.router.routes.pop())  # before the console's routes
    r = client.get(f"/ui/slos/{slo.id}")
    assert r.status_code == 200
    assert r.text.count('<tr data-group="job=') == 2
    assert r.text.index('data-group="job=a"') < r.text.index('data-group="job=b"')
    assert "40.0% of 30d recorded" in r.text


def test_the_definition_route_names_queries_source_and_rules(client: TestClient) -> None:
    slo = SLOS[1]
    d = client.get(f"/api/v1/slos/{slo.id}/definition").json()
    assert d["sli"] == {"kind": "events", "errors": 'e{code="5"}', "total": "e"}
    assert d["source_format"] == "python" and d["group_by"] == []
    assert "rate(e[30d])" in d["error_ratio_query"]
    assert f'slo:sli_error:ratio_rate30d{{sloplane_id="{slo.id}"}}' in d["recorded_series"]
    assert d["alert_names"] == [slo.alert_name("page"), slo.alert_name("ticket")]
    assert client.get("/api/v1/slos/nope/definition").status_code == 404
    page = client.get(f"/ui/slos/{slo.id}").text
    assert 'data-field="error_ratio_query"' in page and 'data-degraded="definition"' not in page


def test_a_refused_generation_says_why(tmp_path: Path) -> None:
    settings = ApiSettings(
        "http://127.0.0.1:9", f"sqlite:///{tmp_path / 'db'}", admin_token="slp_a", schedule=None
    )
    with TestClient(create_app(Catalog.of(SLOS), settings)) as c:
        csrf = c.get("/ui/login").text.split('name="csrf" value="')[1].split('"')[0]
        r = c.post("/ui/login", data={"token": "slp_a", "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        csrf = c.get("/ui/reports").text.split('name="csrf" value="')[1].split('"')[0]
        r = c.post("/ui/reports/generate", data={"scope": "all", "week": "2999-W01", "csrf": csrf})
    assert r.status_code == 422
    assert "Could not generate the report for all 2999-W01" in r.text
    assert "The API answered 422" in r.text


def test_an_api_crash_is_a_page_naming_it(client: TestClient) -> None:
    app: Any = client.app

    async def broken(slos: Any, at: float | None = None) -> list[SLOStatus]:
        raise RuntimeError("boom")

    app.state.sloplane.service.statuses = broken
    r = client.get("/ui/")
    assert r.status_code == 502
    assert "The API answered 500" in r.text and "Traceback" not in r.text


def test_closed_reads_send_visitors_to_the_login_page(tmp_path: Path) -> None:
    settings = ApiSettings("http://127.0.0.1:9", f"sqlite:///{tmp_path / 'db'}", schedule=None)
    with TestClient(create_app(Catalog.of(SLOS), settings)) as c:
        r = c.get("/ui/services?at=1", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/login?next=%2Fui%2Fservices%3Fat%3D1"
        login = c.get(r.headers["location"]).text
        assert 'href="/ui/services?at=1" id="continue"' in login  # a Strict cookie's way back
        c.cookies.set("sloplane_token", "slp_forged", path="/ui")
        assert c.get("/ui/", follow_redirects=False).status_code == 303
