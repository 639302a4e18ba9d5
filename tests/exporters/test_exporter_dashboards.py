"""The exporters' dashboards: a target variable, target in every legend, panels grouped by
question and titled in words, right units, valid PromQL on series that exist."""

from __future__ import annotations

from typing import Any

import promql_parser
import pytest

from sloplane.dashboards.exporters import TITLES, exporter_dashboards, known_metrics
from sloplane.exporters.rules import stacks
from sloplane.slo.promql import selectors

DASHBOARDS = exporter_dashboards()
KINDS = sorted(TITLES)


def panels(kind: str) -> list[dict[str, Any]]:
    return list(DASHBOARDS[f"sloplane-exporter-{kind}"]["panels"])


def queries(kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in panels(kind) for t in p.get("targets", [])]


def test_every_kind_has_a_dashboard() -> None:
    assert set(DASHBOARDS) == {f"sloplane-exporter-{kind}" for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_target_variable_and_target_in_every_legend(kind: str) -> None:
    variables = {
        v["name"]: v for v in DASHBOARDS[f"sloplane-exporter-{kind}"]["templating"]["list"]
    }
    assert "target" in variables and "instance" not in variables
    assert ", target)" in str(variables["target"]["query"])
    assert variables["target"]["allValue"] == ".*"  # "All" keeps series without the label
    for title, query in queries(kind):
        assert "{{target}}" in query["legendFormat"], f"{kind} / {title}"
        assert '$target"' in query["expr"], f"{kind} / {title}: not filtered by $target"


@pytest.mark.parametrize("kind", KINDS)
def test_panels_grouped_by_question_and_titled_in_words(kind: str) -> None:
    found = panels(kind)
    assert found[0]["type"] == "row"
    rows = [p["title"] for p in found if p["type"] == "row"]
    assert rows[0] == "Is it up?"
    assert all(title.endswith("?") for title in rows)
    prefixes = ("pg_", "pgbouncer_", "redis_", "rabbitmq_", "http_probe_")
    for panel in found:
        words = panel["title"].replace("(", " ").replace(")", " ").split()
        assert not any(w.startswith(prefixes) for w in words), f"{kind}: {panel['title']!r}"


@pytest.mark.parametrize("kind", ["postgres", "redis", "rabbitmq"])
def test_each_topology_has_a_replication_row(kind: str) -> None:
    rows = [p["title"] for p in panels(kind) if p["type"] == "row"]
    assert "Is it replicating?" in rows


def _unit(kind: str, title: str) -> str:
    (panel,) = [p for p in panels(kind) if p["title"] == title]
    return str(panel["fieldConfig"]["defaults"]["unit"])


def test_units_say_what_the_numbers_are() -> None:
    assert _unit("postgres", "Started") == "dateTimeFromNow"
    assert _unit("redis", "Started") == "dateTimeFromNow"
    assert _unit("redis", "Fragmentation (RSS / used)") == "none"
    assert _unit("postgres", "Cache hit ratio") == "percentunit"
    assert _unit("redis", "Keyspace hit ratio") == "percentunit"
    assert _unit("postgres", "Replica lag (primary side)") == "bytes"
    assert _unit("postgres", "Replica lag (replica side)") == "s"
    assert _unit("http", "Certificate expires") == "dateTimeFromNow"


def test_ratios_come_from_the_recorded_rules() -> None:
    exprs = " ".join(q["expr"] for kind in KINDS for _, q in queries(kind))
    for recorded in (
        "instance:pg_cache_hit:ratio_rate5m",
        "instance:pg_connections_used:ratio",
        "instance:redis_keyspace_hit:ratio_rate5m",
        "instance:redis_memory_used:ratio",
    ):
        assert recorded in exprs


@pytest.mark.parametrize("kind", KINDS)
def test_queries_parse_and_name_only_series_that_exist(kind: str) -> None:
    known = {name for names in known_metrics().values() for name in names}
    known |= {rule.record for stack in stacks() for rule in stack.records if rule.record}
    for title, query in queries(kind):
        expr = query["expr"].replace("$__rate_interval", "5m").replace("$target", ".*")
        promql_parser.parse(expr)
        for name, _ in selectors(expr):
            assert name in known, f"{kind} / {title}: {name} is not exposed"
