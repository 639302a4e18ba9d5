"""Build promtool unit tests from traffic phases and run them against generated rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from sloplane.artifacts import GenerateSettings
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO
from sloplane.slo.promql import num
from sloplane.slo.rules import compile_rules
from tests.support.processes import promtool


@dataclass(frozen=True)
class Phase:
    """``steps`` scrape intervals with ``requests`` per step, ``error_ratio`` of them failing."""

    steps: int
    requests: float
    error_ratio: float


def counter(phases: list[Phase], errors: bool) -> str:
    """promtool expanding notation for a counter that grows per phase."""
    value = 1000.0
    parts = [f"{num(value)}+0x0"]
    for phase in phases:
        inc = phase.requests * (phase.error_ratio if errors else 1 - phase.error_ratio)
        value += inc
        parts.append(f"{num(value)}+{num(inc)}x{phase.steps - 1}")
        value += inc * (phase.steps - 1)
    return " ".join(parts)


def http_series(phases: list[Phase]) -> list[dict[str, str]]:
    return [
        {"series": 'http_requests_total{job="api", code="500"}', "values": counter(phases, True)},
        {"series": 'http_requests_total{job="api", code="200"}', "values": counter(phases, False)},
    ]


def run_scenario(
    tmp: Path,
    slo: SLO,
    phases: list[Phase],
    expr_tests: list[tuple[str, str, float]],
    interval: str = "1m",
) -> None:
    """Compile ``slo``, feed ``phases`` and assert each (time, expr, value) via promtool."""
    artifacts = compile_rules(Catalog.of([slo]), GenerateSettings(unit_tests=False))
    for rel, text in artifacts.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    rule_file = next(p for p in artifacts if p.endswith(".rules.yml"))
    test = {
        "rule_files": [str(tmp / rule_file)],
        "evaluation_interval": interval,
        "tests": [
            {
                "interval": interval,
                "input_series": http_series(phases),
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": at,
                        "exp_samples": [{"labels": "{}", "value": value}],
                    }
                    for at, expr, value in expr_tests
                ],
            }
        ],
    }
    test_file = tmp / "scenario.test.yml"
    test_file.write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", str(test_file), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def firing(alertname: str) -> str:
    """1 while ``alertname`` fires, else 0."""
    return f'count(ALERTS{{alertname="{alertname}", alertstate="firing"}}) or vector(0)'


def ever_fired(alertname: str, within: str) -> str:
    return (
        f'count(count_over_time(ALERTS{{alertname="{alertname}", alertstate="firing"}}[{within}]))'
        " or vector(0)"
    )
