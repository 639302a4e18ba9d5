"""Weekly report rows of latency SLOs from the source queries equal the recorded-rule path.

See tests/api/test_latency_fallback.py: each SLO of latency_dataset.py comes with and
without its recorded series, bucket bounds are spelled unlike the thresholds, and windows
over 2h are compared within 5m / window.
"""

from __future__ import annotations

import asyncio

import pytest

from sloplane.clients.prometheus import AsyncPrometheusClient
from sloplane.reports.collect import DAY, WEEK, build_report
from sloplane.reports.model import Report, SLOWeek
from sloplane.slo.model import SLO
from tests.api.conftest import latency_prom  # noqa: F401  (session fixture shared with tests/api)
from tests.api.latency_dataset import LATENCY_CATALOG, PAIRS, TYPO
from tests.api.test_latency_fallback import rel
from tests.support.processes import Prometheus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(latency_prom: Prometheus) -> Report:  # noqa: F811
    async def go() -> Report:
        client = AsyncPrometheusClient(latency_prom.url)
        try:
            return await build_report(LATENCY_CATALOG, client, "2026-W46")
        finally:
            await client.aclose()

    return asyncio.run(go())


def _ratio(sli: float | None) -> float:
    assert sli is not None
    return 1 - sli


@pytest.mark.parametrize("pair", PAIRS, ids=lambda pair: pair[1].id)
def test_fallback_rows_equal_the_recorded_path(report: Report, pair: tuple[SLO, SLO]) -> None:
    rows = {s.id: s for s in report.slos}
    r: SLOWeek = rows[pair[0].id]
    f: SLOWeek = rows[pair[1].id]
    window = pair[0].window
    assert (r.source, f.source) == ("recording_rules", "source_query")
    assert _ratio(f.week_sli) == pytest.approx(_ratio(r.week_sli), rel=rel(WEEK))
    assert _ratio(f.window_sli) == pytest.approx(_ratio(r.window_sli), rel=rel(window))
    assert _ratio(f.previous_week_sli) == pytest.approx(_ratio(r.previous_week_sli), rel=rel(WEEK))
    assert (f.week_met, f.window_met, f.trend) == (r.week_met, r.window_met, r.trend)
    assert r.budget_consumed_week_ratio is not None and r.budget_remaining_ratio is not None
    assert f.budget_consumed_week_ratio == pytest.approx(
        r.budget_consumed_week_ratio, rel=rel(WEEK)
    )
    assert f.budget_remaining_ratio == pytest.approx(r.budget_remaining_ratio, rel=rel(window))
    assert f.budget_remaining_minutes == pytest.approx(r.budget_remaining_minutes, rel=rel(window))
    assert [d.date for d in f.days] == [d.date for d in r.days] and len(r.days) == 7
    for fd, rd in zip(f.days, r.days, strict=True):
        assert _ratio(fd.sli) == pytest.approx(_ratio(rd.sli), rel=rel(DAY)), rd.date
        assert fd.met == rd.met
    assert f.worst_day is not None and r.worst_day is not None
    assert f.worst_day.date == r.worst_day.date
    assert [p.t for p in f.burn_down] == [p.t for p in r.burn_down] and len(r.burn_down) == 29
    for fp, rp in zip(f.burn_down, r.burn_down, strict=True):
        assert fp.budget_remaining_ratio == pytest.approx(
            rp.budget_remaining_ratio, rel=rel(window)
        )


def test_the_burn_is_the_worst_day_and_a_missing_bucket_is_all_slow(report: Report) -> None:
    rows = {s.id: s for s in report.slos}
    for recorded, fallback in PAIRS:
        for row in (rows[recorded.id], rows[fallback.id]):
            if recorded.sli == TYPO.sli:
                assert row.week_sli == pytest.approx(0.0, abs=1e-9) and row.week_met is False
            else:
                # Thursday: 3h at 2/s slow, 21h at 0.05/s, of 10/s
                thursday = (2.0 * 3 * 3600 + 0.05 * 21 * 3600) / (10 * 86400)
                assert row.worst_day is not None and row.worst_day.date == "2026-11-12"
                assert row.worst_day.sli == pytest.approx(1 - thursday, rel=1e-4)
