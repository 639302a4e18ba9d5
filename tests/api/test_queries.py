"""The API's and the reports' PromQL is the rule compiler's: they cannot disagree.

``recorded_ratio`` reads a recorded window as recorded and any other window (a report's
week) through :func:`sloplane.slo.rules.sli.window_ratio`, the function the compiler
records every ratio with. The first tests pin that for every SLI kind; the promtool
test shows what it means for an availability SLI: total errors over total events, not
the average of 5m ratios the API used to send.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sloplane.artifacts import GenerateSettings
from sloplane.slo import naming, queries
from sloplane.slo.model import SLO, AvailabilitySLI, EventsSLI, LatencySLI, RawSLI
from sloplane.slo.rules import rule_groups
from sloplane.slo.rules.sli import window_ratio
from tests.support.processes import promtool

SLIS = {
    "events": EventsSLI(errors='req_total{code=~"5.."}', total="req_total"),
    "good": EventsSLI(good='req_total{code!~"5.."}', total="req_total"),
    "latency": LatencySLI(metric="dur_seconds", threshold="0.3", selector='job="a"'),
    "raw": RawSLI(error_ratio="sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"),
    "availability": AvailabilitySLI(gauge='probe_success{job="blackbox"}'),
}
GROUPINGS = {"plain": (), "grouped": ("route",)}
WEEK = 7 * 86400


def slo_of(kind: str, grouping: str) -> SLO:
    return SLO(
        service="svc",
        name=f"{kind}-{grouping}",
        objective=99.9,
        sli=SLIS[kind],
        group_by=GROUPINGS[grouping],
    )


CASES = [pytest.param(k, g, id=f"{k}-{g}") for k in SLIS for g in GROUPINGS]


@pytest.mark.parametrize(("kind", "grouping"), CASES)
def test_every_recorded_ratio_is_the_builders_expression(kind: str, grouping: str) -> None:
    slo = slo_of(kind, grouping)
    recorded = {
        r["record"]: r["expr"]
        for g in rule_groups([slo], GenerateSettings())
        for r in g["rules"]
        if "record" in r
    }
    for window in naming.recorded_windows(slo):
        assert recorded[naming.ratio_metric(window)] == window_ratio(slo, window, queries.LABELS)
        assert queries.recorded_ratio(slo, window) == (
            f"max({naming.ratio_metric(window)}{queries.selector(slo)})"
        )


@pytest.mark.parametrize(("kind", "grouping"), CASES)
def test_an_unrecorded_window_divides_sums_as_the_rules_do(kind: str, grouping: str) -> None:
    slo = slo_of(kind, grouping)
    assert WEEK not in naming.recorded_windows(slo)
    expr = queries.recorded_ratio(slo, WEEK)
    assert expr == f"max({window_ratio(slo, WEEK, queries.LABELS)})"
    sel = queries.selector(slo)
    assert f"sum_over_time({naming.ERRORS_RATE}{sel}[7d])" in expr
    assert f"sum_over_time({naming.TOTAL_RATE}{sel}[7d])" in expr
    assert "avg_over_time" not in expr


@pytest.mark.integration
def test_availability_window_is_total_errors_over_total_events(tmp_path: Path) -> None:
    """Two hours with one probe target down, then two hours with nine up.

    The 5m ratios average to 23/48 over the four hours; the rules (and now the API) say
    23 down target-intervals out of 248: 23/248.
    """
    slo = slo_of("availability", "plain")
    window = 4 * 3600
    assert window not in naming.recorded_windows(slo)
    labels = ", ".join(f'{k}="{v}"' for k, v in queries.LABELS.identity(slo).items())
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "5m",
                "input_series": [
                    # no sample at 0: Prometheus 2 and 3 differ on a sample at the left edge
                    {"series": f"{naming.ERRORS_RATE}{{{labels}}}", "values": "_ 1x22 0x24"},
                    {"series": f"{naming.TOTAL_RATE}{{{labels}}}", "values": "_ 1x22 9x24"},
                ],
                "promql_expr_test": [
                    {
                        "expr": queries.recorded_ratio(slo, window),
                        "eval_time": "4h",
                        "exp_samples": [{"labels": "{}", "value": 23 / 248}],
                    }
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    run = promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
