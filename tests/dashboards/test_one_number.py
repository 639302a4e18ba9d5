"""Issue 13, "one instant, one number": a dashboard's SLI and budget are the API's expressions.

For the SLO window the API sends :func:`~sloplane.slo.queries.recorded_ratio` while the
window's coverage is complete and :func:`~sloplane.slo.queries.source_ratio` otherwise;
``tests/api/test_queries.py`` pins both to the rule compiler (``window_ratio`` and
``SliQueries.ratio``). A dashboard panel cannot ask twice, so it states that rule in one
expression, :func:`~sloplane.slo.queries.covered_ratio`. These tests pin the headline panels
(and the ``budget_remaining`` alert annotation) to it, and it to the API's two functions,
for every SLI kind, grouping, window and label mode. ``tests/api/test_fresh_rules.py``
evaluates the panels against a real Prometheus beside the API and the report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.artifacts import GenerateSettings
from sloplane.dashboards.queries import expand
from sloplane.dashboards.slos import Queries
from sloplane.slo import naming, queries
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO, EventsSLI
from sloplane.slo.promql import num, parse_error
from sloplane.slo.rules import compile_rules
from sloplane.slo.rules.alerts import _quoted
from sloplane.slo.rules.sli import SliQueries
from tests.api.test_queries import SLIS
from tests.support.dashboard_queries import BUDGET_PANEL, SLI_PANEL, slo_panel_queries
from tests.support.processes import promtool

DEFAULTS = {"slo": ".+", "group_route": ".+", "group_method": ".+"}


def _slo(kind: str, group_by: tuple[str, ...], window: str) -> SLO:
    return SLO(
        service="svc",
        name=f"{kind}-x",
        objective=99.5,
        sli=SLIS[kind],
        group_by=group_by,
        window=window,
    )


slos = st.builds(
    _slo,
    kind=st.sampled_from(sorted(SLIS)),
    group_by=st.sampled_from([(), ("route",), ("route", "method")]),
    window=st.sampled_from(["1h", "7d", "28d", "30d"]),
)


@settings(max_examples=40, deadline=None)
@given(slo=slos, mode=st.sampled_from(["sloplane", "sloth"]))
def test_headline_panels_are_the_apis_rule_in_one_expression(slo: SLO, mode: str) -> None:
    panels = slo_panel_queries(Catalog.of([slo]), slo, label_mode=mode)
    sel = Queries(slo, naming.Labels(mode)).sel  # type: ignore[arg-type]
    covered = queries.covered_ratio(slo, slo.window, sel)
    assert panels[SLI_PANEL.format(window=slo.window_text)] == expand(
        f"1 - (\n{covered}\n)", DEFAULTS
    )
    assert panels[BUDGET_PANEL] == expand(
        f"1 - (\n{covered}\n) / {num(slo.error_budget)}", DEFAULTS
    )
    for expr in panels.values():
        assert parse_error(expr) is None, expr
    # its parts are the API's own expressions, the recorded one with the dashboard's selector
    assert queries.recorded_ratio(slo, slo.window, True, sel) in covered
    assert queries.source_ratio(slo, slo.window, True) in covered
    shortfall = f"(min({naming.coverage_metric(slo.window)}{sel}) < {queries.COMPLETE_COVERAGE!r})"
    assert (shortfall in covered) == naming.composed(slo.window)


@pytest.mark.parametrize("kind", sorted(SLIS))
@pytest.mark.parametrize("group_by", [(), ("route",)])
def test_without_a_dashboard_selector_the_recorded_side_is_the_apis_query(
    kind: str, group_by: tuple[str, ...]
) -> None:
    slo = _slo(kind, group_by, "30d")
    covered = queries.covered_ratio(slo, slo.window)
    api_recorded = queries.ratio(slo, slo.window, "recording_rules", by_group=True)
    api_source = queries.ratio(slo, slo.window, "source_query", by_group=True)
    coverage = f"{naming.coverage_metric(slo.window)}{queries.selector(slo)}"
    trusted = f"(\n{api_recorded}\nunless on () (min({coverage}) < 0.99)\n)"
    assert covered == f"{trusted}\nor\n(\n(\n{api_source}\n)\nunless on () {trusted}\n)"


@pytest.mark.parametrize("kind", sorted(SLIS))
def test_the_panels_and_the_api_call_the_same_compiler_function(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a copy of the source expression: replace the compiler's, and both follow."""
    slo = _slo(kind, ("route",), "30d")
    monkeypatch.setattr(SliQueries, "ratio", lambda self, window: f"compiled_ratio_{window}")
    marker = f"compiled_ratio_{slo.window}"
    assert marker in queries.source_ratio(slo, slo.window)
    panels = slo_panel_queries(Catalog.of([slo]), slo)
    assert marker in panels[SLI_PANEL.format(window="30d")] and marker in panels[BUDGET_PANEL]


@pytest.mark.parametrize("kind", sorted(SLIS))
def test_the_budget_annotation_falls_back_to_the_apis_source_query(kind: str) -> None:
    slo = _slo(kind, ("route",), "30d")
    source = _quoted(f"1 - ({queries.source_ratio(slo, slo.window)}) / {num(slo.error_budget)}")
    assert f'with query "{source}"' in _budget_annotation(slo)


def _budget_annotation(slo: SLO) -> str:
    rules = compile_rules(Catalog.of([slo]), GenerateSettings(unit_tests=False))
    return next(
        r["annotations"]["budget_remaining"]
        for text in rules.values()
        for g in yaml.safe_load(text)["groups"]
        for r in g["rules"]
        if "alert" in r and "budget_remaining" in r.get("annotations", {})
    )


@pytest.mark.integration
def test_the_budget_annotation_renders_each_source_in_prometheus(tmp_path: Path) -> None:
    """promtool expands the generated annotation as Prometheus does: the period series when
    the rules trust the history, else the source queries (5% errors over the one hour of
    data: 400% of the budget spent), else the recorded share."""
    slo = SLO(
        service="shop",
        name="availability",
        objective=99,
        sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
    )
    ids = ", ".join(f'{k}="{v}"' for k, v in queries.LABELS.identity(slo).items())
    rule = {
        "alert": "Burn",
        "expr": "vector(1)",
        "annotations": {"budget_remaining": _budget_annotation(slo)},
    }
    (tmp_path / "alert.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}, sort_keys=False)
    )
    raw = [
        {"series": 'http_requests_total{code="500"}', "values": "0+5x60"},
        {"series": 'http_requests_total{code="200"}', "values": "0+95x60"},
    ]
    coverage = [{"series": f"slo:sli_coverage:ratio30d{{{ids}}}", "values": "0.004x60"}]
    period = [{"series": f"slo:period_error_budget_remaining:ratio{{{ids}}}", "values": "0.25x60"}]
    cases = [
        (raw + coverage + period, "25%"),
        (raw + coverage, "-400% (from the source queries: 0.4% of 30d recorded)"),
        (coverage, "insufficient history: 0.4% of 30d recorded"),
    ]
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {
                    "eval_time": "1h",
                    "alertname": "Burn",
                    "exp_alerts": [{"exp_annotations": {"budget_remaining": expected}}],
                }
            ],
        }
        for series, expected in cases
    ]
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump({"rule_files": ["alert.yml"], "tests": tests}, sort_keys=False)
    )
    run = promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.integration
def test_covered_ratio_picks_the_source_the_api_would(tmp_path: Path) -> None:
    """One hour of 50% errors in the raw counters; the recorded 30d ratio says 25% (both
    exact in binary, as promtool compares exactly). The expression answers 25% when the
    coverage is complete or not recorded (the API's ``trusted``), 50% (the source queries)
    when the coverage is short or nothing is recorded at the instant (an instant before
    the rules)."""
    slo = SLO(
        service="shop",
        name="availability",
        objective=99,
        sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
    )
    ids = ", ".join(f'{k}="{v}"' for k, v in queries.LABELS.identity(slo).items())
    raw = [
        {"series": 'http_requests_total{code="500"}', "values": "0+50x60"},
        {"series": 'http_requests_total{code="200"}', "values": "0+50x60"},
    ]
    recorded = [{"series": f"slo:sli_error:ratio_rate30d{{{ids}}}", "values": "0.25x60"}]

    def coverage(share: float) -> list[dict[str, str]]:
        return [{"series": f"slo:sli_coverage:ratio30d{{{ids}}}", "values": f"{share}x60"}]

    cases = [
        (raw + recorded + coverage(1), 0.25),
        (raw + recorded + coverage(0.995), 0.25),
        (raw + recorded + coverage(0.5), 0.5),
        (raw + recorded, 0.25),
        (raw + coverage(0.5), 0.5),
        (raw, 0.5),
    ]
    expr = queries.covered_ratio(slo, slo.window)
    tests = [
        {
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [
                {"expr": expr, "eval_time": "1h", "exp_samples": [{"labels": "{}", "value": v}]}
            ],
        }
        for series, v in cases
    ]
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump({"rule_files": [], "tests": tests}, sort_keys=False)
    )
    run = promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
