"""Overview stats count SLOs (not series) and follow $service/$slo; alert annotations are scoped.

The queries run in Prometheus' own engine (``promtool test rules``) over synthetic
series: an SLO with ``group_by`` has several series per metric, and must count once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sloplane.artifacts import GenerateSettings
from sloplane.dashboards import OVERVIEW_UID, render_dashboards
from sloplane.dashboards.queries import expand
from sloplane.slo.naming import dashboard_uid
from tests.dashboards.test_dashboards import CATALOG
from tests.support.processes import promtool

pytestmark = pytest.mark.integration

ID, SERVICE, SLO_LABEL, SEVERITY = (
    "sloplane_id",
    "sloplane_service",
    "sloplane_slo",
    "sloplane_severity",
)


def labels(service: str, slo: str, **extra: str) -> str:
    pairs = {ID: f"{service}-{slo}", SERVICE: service, SLO_LABEL: slo, **extra}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"


# checkout-latency groups by route: three series each, and it pages in two routes.
SERIES = [
    *(
        (f"sloplane_slo_info{labels(s, n)}", "1")
        for s, n in (
            ("checkout", "availability"),
            ("checkout", "latency"),
            ("search", "availability"),
        )
    ),
    *(
        (
            "ALERTS"
            + labels(
                "checkout",
                "latency",
                alertname="CheckoutLatencyBurnPage",
                alertstate="firing",
                route=r,
                severity="page",
                **{SEVERITY: "page"},
            ),
            "1",
        )
        for r in ("a", "b")
    ),
    (
        "ALERTS"
        + labels(
            "search",
            "availability",
            alertname="SearchBurnTicket",
            alertstate="firing",
            severity="ticket",
            **{SEVERITY: "ticket"},
        ),
        "1",
    ),
    ('ALERTS{alertname="Watchdog", alertstate="firing", severity="none"}', "1"),
    *(
        (
            f"slo:period_error_budget_remaining:ratio{labels('checkout', 'latency', route=r)}",
            v,
        )
        for r, v in (("a", "-0.5"), ("b", "-0.1"), ("c", "0.4"))
    ),
    (f"slo:period_error_budget_remaining:ratio{labels('checkout', 'availability')}", "0.9"),
    (f"slo:period_error_budget_remaining:ratio{labels('search', 'availability')}", "-1"),
]


def dashboard(uid: str) -> dict[str, Any]:
    artifacts = render_dashboards(CATALOG, GenerateSettings())
    return json.loads(artifacts[f"grafana/{uid}.json"])


def stat_queries(data: dict[str, Any]) -> dict[str, str]:
    return {p["title"]: p["targets"][0]["expr"] for p in data["panels"] if p["type"] == "stat"}


def evaluate(tmp_path: Path, expr: str, expected: list[dict[str, Any]]) -> None:
    """Assert ``expr`` evaluates to ``expected`` at 1m over :data:`SERIES` (promtool unit test)."""
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": f"{v}x5"} for s, v in SERIES],
                "promql_expr_test": [{"expr": expr, "eval_time": "1m", "exp_samples": expected}],
            }
        ],
    }
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, expr + "\n" + result.stdout + result.stderr


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"service": ".+", "slo": ".+"},
            {"SLOs": 3, "Pages firing": 1, "Tickets firing": 1, "SLOs out of budget": 2},
        ),
        (
            {"service": "checkout", "slo": ".+"},
            {"SLOs": 2, "Pages firing": 1, "Tickets firing": 0, "SLOs out of budget": 1},
        ),
        (
            {"service": ".+", "slo": "availability"},
            {"SLOs": 2, "Pages firing": 0, "Tickets firing": 1, "SLOs out of budget": 1},
        ),
    ],
)
def test_overview_stats_count_distinct_slos_and_follow_the_variables(
    tmp_path: Path, values: dict[str, str], expected: dict[str, int]
) -> None:
    queries = stat_queries(dashboard(OVERVIEW_UID))
    assert set(queries) == set(expected)
    for title, count in expected.items():
        evaluate(tmp_path, expand(queries[title], values), [{"labels": "{}", "value": count}])


def test_service_dashboard_annotation_shows_only_its_service_alerts(tmp_path: Path) -> None:
    (annotation,) = dashboard(dashboard_uid("search"))["annotations"]["list"]
    expected = [
        {
            "labels": labels(
                "search",
                "availability",
                __name__="ALERTS",
                alertname="SearchBurnTicket",
                alertstate="firing",
                severity="ticket",
                **{SEVERITY: "ticket"},
            ),
            "value": 1,
        }
    ]
    evaluate(tmp_path, expand(annotation["expr"], {"slo": ".+"}), expected)
    evaluate(tmp_path, expand(annotation["expr"], {"slo": "latency"}), [])


def test_overview_annotation_follows_the_variables(tmp_path: Path) -> None:
    (annotation,) = dashboard(OVERVIEW_UID)["annotations"]["list"]
    expr = f"count({expand(annotation['expr'], {'service': 'checkout', 'slo': '.+'})})"
    evaluate(tmp_path, expr, [{"labels": "{}", "value": 2}])
