"""Objectives at the model's extremes: reports and the status endpoint agree, none crashes.

The model keeps objectives to 12 decimal places and refuses every objective that rounds
to 0% or 100%, and booleans (which pydantic would read as 1.0 and 0.0). Its highest
objective is 99.9999999999% (a budget of 1e-12). No input can give a budget of 0 any
more, but the guard in the one burn-rate helper the API and reports share is still what
keeps them from dividing by zero, so the zero case builds its SLO without validation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sloplane.clients.prometheus import AsyncPrometheusClient
from sloplane.reports.collect import WEEK, build_report
from sloplane.reports.model import Report
from sloplane.reports.render import render_all
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO
from tests.api.conftest import (
    api,
    prom,  # noqa: F401  (session fixture shared with tests/api)
)
from tests.api.dataset import CHECKOUT, SEARCH, W46_END
from tests.support.processes import Prometheus

HIGHEST = 99.9999999999  # 12 nines: the highest objective the model keeps
ZERO_BUDGET = 1.0  # the stored ratio of a 100% objective: no error budget at all


def _with_objective(slo: SLO, objective: float | str | bool) -> SLO:
    return SLO.model_validate({**slo.model_dump(by_alias=True), "objective": objective})


def _with_zero_budget(slo: SLO) -> SLO:
    # Validation refuses every objective that leaves no budget, so build the SLO without
    # it (model_copy(update=...) does not validate, like model_construct): this is the
    # only way to reach the zero-budget guard in SLO.burn_rate that the reports rely on.
    return slo.model_copy(update={"objective": ZERO_BUDGET})


def _at(slo: SLO, objective: float) -> SLO:
    return _with_zero_budget(slo) if objective == ZERO_BUDGET else _with_objective(slo, objective)


def test_the_model_extremes() -> None:
    assert _with_objective(CHECKOUT, HIGHEST).error_budget == 1e-12
    assert _with_zero_budget(CHECKOUT).error_budget == 0
    for refused in (99.99999999995, "99.99999999995", "100%", 100, 1.0 - 2**-53, 1e-13):
        with pytest.raises(ValueError, match="out of range"):
            _with_objective(CHECKOUT, refused)
    for flag in (True, False):  # pydantic alone would read them as 100% and 0%
        with pytest.raises(ValueError, match="expected a number, got bool"):
            _with_objective(CHECKOUT, flag)


@pytest.fixture(scope="module", params=[HIGHEST, ZERO_BUDGET], ids=["1e-12", "zero"])
def catalog(request: pytest.FixtureRequest) -> Catalog:
    # CHECKOUT has recorded series, SEARCH falls back to the source queries
    return Catalog.of([_at(s, request.param) for s in (CHECKOUT, SEARCH)])


@pytest.fixture(scope="module")
def report(prom: Prometheus, catalog: Catalog) -> Report:  # noqa: F811
    async def go() -> Report:
        client = AsyncPrometheusClient(prom.url)
        try:
            return await build_report(catalog, client, "2026-W46")
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def client(
    prom: Prometheus,  # noqa: F811
    catalog: Catalog,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    db: Path = tmp_path_factory.mktemp("extremes") / "api.db"
    with api(prom.url, db, catalog, open_reads=True) as c:
        yield c


@pytest.mark.integration
@pytest.mark.parametrize("slo_id", ["checkout-availability", "search-availability"])
def test_report_budget_equals_the_status_budget(
    report: Report, client: TestClient, catalog: Catalog, slo_id: str
) -> None:
    slo = catalog.by_id(slo_id)
    assert slo is not None
    row = next(s for s in report.slos if s.id == slo_id)
    r = client.get(f"/api/v1/slos/{slo_id}/status", params={"at": W46_END})
    assert r.status_code == 200, r.text
    status = r.json()
    assert row.source == status["source"]
    assert row.window_sli == pytest.approx(status["sli"], rel=1e-12)
    assert row.week_sli is not None and row.week_sli < 1 and row.week_met is False
    budget = status["error_budget"]
    if slo.error_budget == 0:
        assert budget["remaining_ratio"] is None and status["current_burn_rate"] is None
        assert row.budget_remaining_ratio is None and row.budget_remaining_minutes is None
        assert row.budget_consumed_week_ratio is None
        assert row.previous_budget_consumed_ratio is None
        assert [p.budget_remaining_ratio for p in row.burn_down] == [None] * len(row.burn_down)
    else:
        assert row.budget_remaining_ratio == pytest.approx(budget["remaining_ratio"], rel=1e-9)
        assert row.budget_remaining_minutes == pytest.approx(budget["remaining_minutes"], rel=1e-9)
        week_ratio = 1 - row.week_sli
        assert row.budget_consumed_week_ratio == pytest.approx(
            week_ratio / 1e-12 * WEEK / slo.window, rel=1e-9
        )
        assert row.burn_down[-1].budget_remaining_ratio == pytest.approx(
            budget["remaining_ratio"], rel=1e-9
        )
    assert len(row.burn_down) == 29


@pytest.mark.integration
def test_report_renders(report: Report) -> None:
    out = render_all(report)
    assert "checkout-availability" in out["md"] and "<svg" in out["html"]
