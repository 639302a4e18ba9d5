"""The roll-up tier composes long windows exactly: promtool against the 5-minute grid sum.

The reference for every composed window is the plain sum of the 5m rates on the absolute
5-minute grid over the same window (``sum_over_time(rate5m[<window>:5m])``), which reads
every sample. The composed ratio (hour buckets + head - tail) must equal it to 1e-9 at
any minute of the hour, through uneven traffic, a counter reset and a scrape gap, and
before the window is full (when both sum only what was recorded).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sloplane.artifacts import GenerateSettings
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO, EventsSLI
from sloplane.slo.naming import composed, coverage_metric, coverage_windows
from sloplane.slo.rules import compile_rules
from sloplane.slo.rules.rollup import just_under
from tests.support.processes import promtool

SLO_DEF = SLO(
    service="api",
    name="availability",
    objective=99.9,
    window="30d",
    group_by=("route",),
    sli=EventsSLI(
        errors='http_requests_total{job="api",code=~"5.."}', total='http_requests_total{job="api"}'
    ),
)
MINUTES = 30 * 60


@given(st.integers(min_value=2, max_value=10_000_000))
def test_just_under_is_one_millisecond_short(seconds: int) -> None:
    text = just_under(seconds)
    assert text.endswith("999ms")
    assert format_duration(seconds - 1) == text.removesuffix("999ms")


def test_only_whole_hours_from_6h_are_composed() -> None:
    assert [w for w in (3600, 7200, 5 * 3600, 6 * 3600, 86400, 22 * 3600 + 60) if composed(w)] == [
        6 * 3600,
        86400,
    ]
    assert coverage_windows(SLO_DEF) == (6 * 3600, 86400, 3 * 86400, 30 * 86400)


def _counter(rng: random.Random, route: str, code: str, errors: bool) -> dict[str, str]:
    """A counter a minute: day/night traffic, a reset at 17h, a 20-minute gap at 11h."""
    value, values = 0.0, []
    for minute in range(MINUTES + 1):
        hour = minute / 60 % 24
        busy = 1000 if 8 <= hour < 20 else 50
        ratio = 0.02 if hour < 8 else 0.001
        if 660 <= minute < 680 and route == "/b":
            values.append("_")
            continue
        if minute == 17 * 60:
            value = 0.0
        step = busy * rng.uniform(0.5, 1.5)
        value += round(step * ratio if errors else step * (1 - ratio))
        values.append(str(int(value)))
    return {
        "series": f'http_requests_total{{job="api", route="{route}", code="{code}"}}',
        "values": " ".join(values),
    }


def _grid_sum(series: str, route: str, window: int) -> str:
    """The reference: every grid point of the window, read 5 minutes behind as the rules do."""
    return f'sum_over_time({series}{{route="{route}"}}[{just_under(window)}:5m] offset 5m)'


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_composed_windows_equal_the_grid_sum_at_any_minute(tmp_path: Path) -> None:
    rules = compile_rules(Catalog.of([SLO_DEF]), GenerateSettings(unit_tests=False))
    rule_file = tmp_path / "rules.yml"
    rule_file.write_text(rules["prometheus/api-availability.rules.yml"])
    rng = random.Random(7)
    series = [
        _counter(rng, route, code, code == "500")
        for route in ("/a", "/b")
        for code in ("200", "500")
    ]
    checks = []
    # every slot of the hour matters to the hour so far: 10h05m and 13h07m read slot 0
    for at in ("7h13m", "10h05m", "13h", "13h07m", "20h41m", "29h59m"):
        for window in (6 * 3600, 86400):
            w = format_duration(window)
            for route in ("/a", "/b"):
                truth = (
                    f"({_grid_sum('slo:sli_errors:rate5m', route, window)})"
                    f" / ({_grid_sum('slo:sli_total:rate5m', route, window)})"
                )
                ours = f'slo:sli_error:ratio_rate{w}{{route="{route}"}}'
                checks.append((at, f"count(abs({ours} / ({truth}) - 1) < 1e-9)", 1))
                covered = f'count_over_time(slo:sli_total:rate5m{{route="{route}"}}[{just_under(window)}:5m] offset 5m)'
                coverage = f'{coverage_metric(window)}{{route="{route}"}}'
                checks.append(
                    (at, f"count(abs({coverage} - ({covered}) / {window // 300}) < 1e-12)", 1)
                )
    # a new service: the recorded series reach as far back as the source, so the period
    # budget is stated although the 30-day window is far from covered
    checks.append(("29h59m", "count(slo:period_error_budget_remaining:ratio)", 2))
    checks.append(("29h59m", "count(slo:sli_coverage:ratio30d < 0.05)", 2))
    test = {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {"expr": expr, "eval_time": at, "exp_samples": [{"labels": "{}", "value": v}]}
                    for at, expr, v in checks
                ],
            }
        ],
    }
    test_file = tmp_path / "rollup.test.yml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", str(test_file), timeout=280)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
