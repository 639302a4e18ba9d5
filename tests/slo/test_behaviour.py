"""The burn-rate alerts behave as the SRE workbook promises, checked by promtool on real rules.

A 99.9% / 30d SLO over an HTTP error ratio, one scrape a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sloplane.slo.model import SLO, EventsSLI, RawSLI
from tests.slo.promtool_scenarios import Phase, ever_fired, firing, run_scenario

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SLO_999 = SLO(
    service="api",
    name="availability",
    objective=99.9,
    window="30d",
    team="platform",
    sli=EventsSLI(
        errors='http_requests_total{job="api",code=~"5.."}', total='http_requests_total{job="api"}'
    ),
)
PAGE = SLO_999.alert_name("page")
TICKET = SLO_999.alert_name("ticket")
HEALTHY = 0.0005  # 0.05% errors: half the sustainable rate
RPM = 1000


def test_total_outage_pages_within_3_minutes_and_clears_within_35(tmp_path: Path) -> None:
    phases = [Phase(360, RPM, HEALTHY), Phase(30, RPM, 1.0), Phase(60, RPM, HEALTHY)]
    run_scenario(
        tmp_path,
        SLO_999,
        phases,
        [
            ("6h", firing(PAGE), 0),
            ("6h3m", firing(PAGE), 1),
            ("6h30m", firing(PAGE), 1),
            ("7h5m", firing(PAGE), 0),
        ],
    )


def test_two_percent_errors_page_within_50_minutes(tmp_path: Path) -> None:
    phases = [Phase(360, RPM, HEALTHY), Phase(60, RPM, 0.02)]
    run_scenario(tmp_path, SLO_999, phases, [("6h", firing(PAGE), 0), ("6h50m", firing(PAGE), 1)])


def test_half_percent_errors_never_page_and_open_a_ticket_within_11_hours(tmp_path: Path) -> None:
    phases = [Phase(360, RPM, HEALTHY), Phase(11 * 60 + 30, RPM, 0.005)]
    run_scenario(
        tmp_path,
        SLO_999,
        phases,
        [
            ("6h", firing(TICKET), 0),
            ("17h", firing(TICKET), 1),
            ("17h29m", ever_fired(PAGE, "18h"), 0),
        ],
    )


def test_healthy_traffic_and_an_hour_without_traffic_never_alert(tmp_path: Path) -> None:
    phases = [
        Phase(24 * 60, RPM, HEALTHY),
        Phase(60, 0, 0.0),
        Phase(24 * 60, RPM, HEALTHY),
    ]
    run_scenario(
        tmp_path,
        SLO_999,
        phases,
        [
            ("49h", ever_fired(PAGE, "50h"), 0),
            ("49h", ever_fired(TICKET, "50h"), 0),
        ],
    )


def test_window_budget_is_total_errors_over_total_events_under_uneven_traffic(
    tmp_path: Path,
) -> None:
    """Busy days with few errors, quiet nights with many: averaging 5m ratios (Sloth) is far off."""
    day, night = Phase(360, 1000, 0.0002), Phase(360, 20, 0.02)
    phases = [day, night] * 14  # 7 days of 12h day / 12h night, 2m steps
    errors = sum(p.steps * p.requests * p.error_ratio for p in phases)
    total = sum(p.steps * p.requests for p in phases)
    truth = 1 - (errors / total) / SLO_999.error_budget
    ours = "min(slo:period_error_budget_remaining:ratio)"
    sloth = "min(1 - avg_over_time(slo:sli_error:ratio_rate5m[30d]) / 0.001)"
    run_scenario(
        tmp_path,
        SLO_999,
        phases,
        [
            ("7d", f"abs({ours} - {truth!r}) < bool 0.02", 1),
            ("7d", f"abs({sloth} - {truth!r}) > bool 1", 1),
        ],
        interval="2m",
    )


def test_raw_ratio_slo_survives_a_quiet_period(tmp_path: Path) -> None:
    """A raw ratio is 0/0 = NaN without traffic; that must not blind the long windows."""
    raw = SLO(
        service="api",
        name="raw",
        objective=99.9,
        sli=RawSLI(
            error_ratio='sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))'
            ' / sum(rate(http_requests_total{job="api"}[{{.window}}]))'
        ),
    )
    phases = [Phase(30, 0, 0.0), Phase(12 * 60, RPM, 0.005)]
    run_scenario(
        tmp_path,
        raw,
        phases,
        [
            ("12h", "count(slo:period_error_budget_remaining:ratio)", 1),
            ("12h", firing(raw.alert_name("ticket")), 1),
        ],
    )
