"""Reports are refused for weeks that have not ended and for teams or services that do not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from sloplane.reports.weeks import week_of
from tests.api.conftest import ADMIN

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def test_future_and_current_weeks_are_422(client: TestClient) -> None:
    this_week = week_of(datetime.now(UTC))
    for week in ("2030-W46", this_week):
        r = client.post(f"/api/v1/reports/all/{week}", headers=AUTH)
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "week" and "has not ended" in r.json()["detail"]
    assert client.get("/api/v1/reports").json() == []
    assert client.get("/api/v1/reports/runs").json() == []


def test_unknown_team_or_service_is_404(client: TestClient) -> None:
    for scope in ("team:nobody", "service:nothing"):
        r = client.post(f"/api/v1/reports/{scope}/2026-W46", headers=AUTH)
        assert r.status_code == 404, r.text
        assert "no SLOs for" in r.json()["detail"]
    r = client.post("/api/v1/reports/galaxy:far/2026-W46", headers=AUTH)
    assert r.status_code == 422 and r.json()["field"] == "scope"
    assert client.get("/api/v1/reports").json() == []


def test_last_week_is_accepted(client: TestClient) -> None:
    last_week = week_of(datetime.now(UTC) - timedelta(days=7))
    r = client.post(f"/api/v1/reports/team:payments/{last_week}", headers=AUTH)
    assert r.status_code == 200, r.text
