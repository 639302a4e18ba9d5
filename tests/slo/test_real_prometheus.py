"""The generated rules in a real Prometheus: the 3-minute long-window group feeds tickets.

promtool evaluates every group at its own evaluation interval and ignores a group's
`interval`, so only a real Prometheus shows how the fast and the slow group interact.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sloplane.artifacts import GenerateSettings
from sloplane.slo import SLO, Catalog, EventsSLI
from sloplane.slo.rules import compile_rules
from tests.support.processes import backfill_openmetrics, prometheus_config, run_prometheus

pytestmark = pytest.mark.integration

SLO_DEF = SLO(
    service="api",
    name="avail",
    objective=99.9,
    sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
)


def _history(days: int = 2, error_ratio: float = 0.005) -> str:
    """Counters for the last ``days`` at one sample a minute, ``error_ratio`` failing."""
    now = int(time.time()) // 60 * 60
    lines = ["# TYPE http_requests counter"]
    for i, t in enumerate(range(now - days * 86400, now - 60, 60)):
        errors = round(i * 1000 * error_ratio)
        lines.append(f'http_requests_total{{code="500"}} {errors} {t}')
        lines.append(f'http_requests_total{{code="200"}} {i * 1000 - errors} {t}')
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(420)
def test_a_slow_burn_opens_a_ticket_and_does_not_page(tmp_path: Path) -> None:
    artifacts = compile_rules(Catalog.of([SLO_DEF]), GenerateSettings(unit_tests=False))
    rules = tmp_path / "rules.yml"
    rules.write_text(artifacts["prometheus/api-avail.rules.yml"])
    backfill_openmetrics(_history(), tmp_path / "data")
    config = prometheus_config(rule_files=[rules], scrape_interval="15s", evaluation_interval="15s")
    with run_prometheus(config, data_dir=tmp_path / "data") as prom:
        deadline = time.monotonic() + 300  # the slow group's first turn is within 3m
        ticket: list[dict] = []
        while time.monotonic() < deadline and not ticket:
            time.sleep(5)
            ticket = prom.query(
                'ALERTS{alertstate="firing", alertname="ApiAvailErrorBudgetBurnTicket"}'
            )
        assert ticket, "the ticket never fired: " + prom.log()[-2000:]
        assert ticket[0]["metric"]["severity"] == "ticket"
        assert not prom.query('ALERTS{alertname="ApiAvailErrorBudgetBurnPage"}')
        # the period status comes from the slow group too: 0.5% errors burn 5x the budget
        (remaining,) = prom.query("slo:period_error_budget_remaining:ratio")
        assert float(remaining["value"][1]) == pytest.approx(1 - 5.0, abs=0.01)
