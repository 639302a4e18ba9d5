"""The generated rules in a real Prometheus, loaded onto days of history they did not record.

promtool evaluates every group at its own evaluation interval and ignores a group's
`interval`, so only a real Prometheus shows how the fast group and the 30-minute roll-up
group interact, and what the rules say before their recorded history covers the window.

The rules "have run" for the last 20 minutes: their recorded tier for that time is written
with ``sloplane backfill`` before Prometheus starts (without it the first long-window
ratio appears 5 to 13 minutes after the rules load), so the first evaluation of the long
group composes the windows from minutes of recorded history, as a freshly loaded rule
file's would be 20 minutes later.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sloplane.slo import SLO, EventsSLI
from tests.support.live_rules import rules_on_history
from tests.support.processes import Prometheus

pytestmark = pytest.mark.integration

SLO_DEF = SLO(
    service="api",
    name="avail",
    objective=99.9,
    sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
)
SLO_PY = """
from sloplane.slo import SLO, EventsSLI

SLOS = [
    SLO(
        service="api",
        name="avail",
        objective=99.9,
        sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
    )
]
"""
RULES_RAN = 1200  # seconds the rules "have run" before the test's Prometheus starts

START = int(time.time()) // 60 * 60 - 2 * 86400
ERROR_RATIO = 0.005


def _counters(at: float) -> dict[str, float]:
    """The counters at ``at``: 1,000 requests a minute since START, ERROR_RATIO failing."""
    i = (at - START) / 60
    errors = round(i * 1000 * ERROR_RATIO)
    return {
        'http_requests_total{code="500"}': errors,
        'http_requests_total{code="200"}': round(i * 1000) - errors,
    }


def _history(end: int) -> str:
    """The counters from START until ``end``, one sample a minute (then live)."""
    lines = ["# TYPE http_requests counter"]
    for t in range(START, end + 1, 60):
        for series, value in _counters(t).items():
            lines.append(f"{series} {value} {t}")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(600)
def test_a_slow_burn_opens_a_ticket_and_does_not_page(tmp_path: Path) -> None:
    end = int(time.time()) // 60 * 60 - 120
    tier = (end - RULES_RAN, end)
    with rules_on_history(tmp_path, SLO_DEF, SLO_PY, _history(end), _counters, tier) as prom:
        _check(prom)


def _check(prom: Prometheus) -> None:
    # the tier of the last 20 minutes is recorded: the first evaluation of the 3m long
    # group composes the 1d ratio (without it: 5 to 13 minutes after the rules load)
    deadline = time.monotonic() + 420
    ticket: list[dict] = []
    while time.monotonic() < deadline and not ticket:
        time.sleep(1)
        ticket = prom.query(
            'ALERTS{alertstate="firing", alertname="ApiAvailErrorBudgetBurnTicket"}'
        )
    assert ticket, "the ticket never fired: " + prom.log()[-2000:]
    assert ticket[0]["metric"]["severity"] == "ticket"
    assert not prom.query('ALERTS{alertname="ApiAvailErrorBudgetBurnPage"}')
    # 20 minutes of recorded history on two days of traffic: the 30-day budget is not
    # stated (it would read as breached: 0.5% errors burn 5x the budget over the few
    # minutes recorded), and the coverage says how little of the window is recorded
    (coverage,) = prom.query("slo:sli_coverage:ratio30d")
    assert 0 < float(coverage["value"][1]) < 0.01
    assert not prom.query("slo:period_error_budget_remaining:ratio")
    assert not prom.query("slo:period_burn_rate:ratio")
