"""Generated dashboards: modern, deterministic, and every query parses and names known metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.artifacts import HEADER, GenerateSettings
from sloplane.cli import main
from sloplane.dashboards import OVERVIEW_UID, PROVISIONING_FILE, render_dashboards
from sloplane.dashboards.check import check_dir
from sloplane.dashboards.cli import check as check_cli
from sloplane.dashboards.queries import expand, panel_queries, variable_values
from sloplane.errors import SpecError
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import NAME_RE, SLO
from sloplane.slo.naming import dashboard_uid
from sloplane.slo.promql import parse_error
from sloplane.slo.rules import compile_rules

MODERN = {"row", "timeseries", "stat", "table", "gauge"}


def make_slo(service: str = "checkout", name: str = "availability", **kw: Any) -> SLO:
    kw.setdefault(
        "sli",
        {
            "kind": "events",
            "errors": 'http_requests_total{code=~"5.."}',
            "total": "http_requests_total",
        },
    )
    return SLO(service=service, name=name, objective=kw.pop("objective", 99.9), **kw)


CATALOG = Catalog.of(
    [
        make_slo(team="payments", runbook_url="https://runbooks.example.com/checkout"),
        make_slo(
            name="latency",
            objective=99,
            window="7d",
            group_by=("route",),
            sli={"kind": "latency", "metric": "http_request_duration_seconds", "threshold": "0.3"},
        ),
        make_slo(service="search", name="availability", objective=99.5, team="discovery"),
    ]
)


def dashboards(catalog: Catalog = CATALOG, **kw: Any) -> dict[str, dict[str, Any]]:
    artifacts = render_dashboards(catalog, GenerateSettings(**kw))
    return {p: json.loads(t) for p, t in artifacts.items() if p.endswith(".json")}


def test_one_dashboard_per_service_plus_overview_and_exporters() -> None:
    paths = set(render_dashboards(CATALOG))
    assert {
        f"grafana/{dashboard_uid('checkout')}.json",
        f"grafana/{dashboard_uid('search')}.json",
        f"grafana/{OVERVIEW_UID}.json",
        PROVISIONING_FILE,
    } <= paths
    assert {
        f"grafana/sloplane-exporter-{k}.json" for k in ("postgres", "redis", "rabbitmq", "http")
    } <= paths


def test_output_is_deterministic_and_sorted() -> None:
    a = render_dashboards(CATALOG)
    b = render_dashboards(Catalog.of(reversed(CATALOG.slos)))
    assert a == b
    for path, text in a.items():
        if path.endswith(".json"):
            assert (
                text
                == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            )


def test_modern_schema_panels_and_header() -> None:
    for path, data in dashboards().items():
        assert data["schemaVersion"] >= 39, path
        assert HEADER in data["description"]
        types = {p["type"] for p in data["panels"]}
        assert types <= MODERN, (path, types)
        ids = [p["id"] for p in data["panels"]]
        assert ids == list(range(1, len(ids) + 1))
        assert data["templating"]["list"][0]["type"] == "datasource"
        for panel in data["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert (
                panel["gridPos"]["x"] >= 0 and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            )
    provisioning = render_dashboards(CATALOG)[PROVISIONING_FILE]
    assert provisioning.startswith(f"# {HEADER}")


def test_service_dashboard_has_service_and_slo_variables_and_all_panel_kinds() -> None:
    data = dashboards()[f"grafana/{dashboard_uid('checkout')}.json"]
    names = [v["name"] for v in data["templating"]["list"]]
    assert names == ["datasource", "service", "slo"]
    slo_var = data["templating"]["list"][2]
    assert [o["value"] for o in slo_var["options"]] == ["$__all", "availability", "latency"]
    titles = [p["title"] for p in data["panels"]]
    assert "availability: 99.9% over 30d" in titles and "latency: 99% over 7d" in titles
    assert {p["type"] for p in data["panels"]} == MODERN
    assert any(link["url"] == "https://runbooks.example.com/checkout" for link in data["links"])


def test_burn_rate_panels_draw_the_alert_thresholds() -> None:
    slo = CATALOG.by_id("checkout-availability")
    assert slo is not None
    data = dashboards()[f"grafana/{dashboard_uid('checkout')}.json"]
    burn = [
        p
        for p in data["panels"]
        if p["type"] == "timeseries"
        and p["title"].startswith("Burn rate ")
        and "checkout-availability" in p["targets"][0]["expr"]
    ]
    assert len(burn) == len(slo.all_burn_windows()) == 4
    for panel, window in zip(burn, slo.all_burn_windows(), strict=True):
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[1]["value"] == pytest.approx(window.factor)
        assert steps[1]["color"] == ("red" if window.severity == "page" else "orange")
        assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"


def test_overview_links_every_slo_to_its_service_dashboard() -> None:
    data = dashboards()[f"grafana/{OVERVIEW_UID}.json"]
    table = next(p for p in data["panels"] if p["type"] == "table")
    info = table["targets"][0]["expr"]
    for service in CATALOG.services():
        assert f'"{dashboard_uid(service)}"' in info
    links = [o for o in table["fieldConfig"]["overrides"] if o["properties"][0]["id"] == "links"]
    assert (
        links and "${__data.fields.dashboard_uid}" in links[0]["properties"][0]["value"][0]["url"]
    )


def all_queries(dashes: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (path, q.panel, expand(q.expr, variable_values(data)))
        for path, data in dashes.items()
        for q in panel_queries(data)
    ]


def test_every_query_parses() -> None:
    queries = all_queries(dashboards())
    assert len(queries) > 100
    bad = [(p, t, q, parse_error(q)) for p, t, q in queries if parse_error(q)]
    assert bad == []


slo_strategy = st.builds(
    make_slo,
    service=st.sampled_from(["api", "web-frontend", "a.b_c"]),
    name=st.sampled_from(["availability", "latency-p99", "x"]),
    objective=st.sampled_from([90, 99, 99.5, 99.9, 99.99]),
    window=st.sampled_from(["1h", "7d", "28d", "30d", "90d"]),
    group_by=st.sampled_from([(), ("route",), ("route", "method")]),
    team=st.sampled_from([None, "payments"]),
)


@settings(max_examples=25, deadline=None)
@given(
    slos=st.lists(slo_strategy, min_size=1, max_size=3, unique_by=lambda s: s.id),
    mode=st.sampled_from(["sloplane", "sloth"]),
)
def test_any_catalog_yields_parsing_queries_and_stable_uids(slos: list[SLO], mode: str) -> None:
    dashes = dashboards(Catalog.of(slos), label_mode=mode)
    for _, _, query in all_queries(dashes):
        assert parse_error(query) is None, query
    uids = [d["uid"] for d in dashes.values()]
    assert len(uids) == len(set(uids)) and all(len(u) <= 40 for u in uids)


@settings(max_examples=200, deadline=None)
@given(service=st.from_regex(NAME_RE, fullmatch=True))
def test_every_service_name_gets_a_uid_grafana_accepts(service: str) -> None:
    # Grafana refuses a uid over 40 characters or with other characters than these
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard_uid(service))


def test_services_sharing_a_uid_are_refused_not_overwritten() -> None:
    # a.b and a-b both became slo-a-b: the second dashboard replaced the first in the output
    catalog = Catalog.of([make_slo(service="a.b"), make_slo(service="a-b")])
    with pytest.raises(SpecError) as info:
        render_dashboards(catalog)
    assert [p.obj for p in info.value.problems] == ["a-b-availability", "a.b-availability"]
    assert all("Grafana dashboard uid 'slo-a-b'" in p.message for p in info.value.problems)


def generate(tmp_path: Path, catalog: Catalog = CATALOG) -> Path:
    settings_ = GenerateSettings()
    for artifacts in (compile_rules(catalog, settings_), render_dashboards(catalog, settings_)):
        for rel, text in artifacts.items():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(text)
    return tmp_path


def test_check_accepts_generated_output(tmp_path: Path) -> None:
    report = check_dir(generate(tmp_path))
    assert report.dashboards >= 6 and report.queries > 100 and report.alerts >= 6
    result = CliRunner().invoke(check_cli, [str(tmp_path)])
    assert result.exit_code == 0 and result.output.startswith("ok:")


def test_check_of_a_directory_without_generated_output_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pointing check at the SLO sources (or an empty dir) used to print "ok: 0 queries ..."
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "api.py").write_text("SLOS = []\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(tmp_path / "slos")])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: {tmp_path / 'slos'}: no generated dashboards or rules "
        "(grafana/*.json, prometheus/*.rules.yml): give the output of `sloplane generate`\n"
    )


def test_check_reports_dangling_references(tmp_path: Path) -> None:
    root = generate(tmp_path)
    path = root / f"grafana/{dashboard_uid('search')}.json"
    data = json.loads(path.read_text())
    data["panels"][1]["targets"][0]["expr"] = "rate(http_requsts_total[5m])"
    data["panels"][4]["targets"][0]["expr"] = "sum(rate(x[5m]"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError) as info:
        check_dir(root)
    messages = [str(p) for p in info.value.problems]
    assert any("'http_requsts_total' comes from no generated recording rule" in m for m in messages)
    assert any("does not parse" in m for m in messages)
    assert all(str(path) in m for m in messages)


def test_check_reports_alert_on_unrecorded_series(tmp_path: Path) -> None:
    root = generate(tmp_path)
    rules = root / "prometheus/extra.rules.yml"
    rules.write_text(
        "groups:\n- name: x\n  rules:\n  - alert: Typo\n    expr: slo:sli_error:ratio_rate7h > 1\n"
    )
    with pytest.raises(SpecError, match="slo:sli_error:ratio_rate7h"):
        check_dir(root)


def test_the_detector_dashboard_asks_for_events_the_service_counts() -> None:
    import re

    from sloplane.dashboards.detectors import detectors_dashboard
    from sloplane.dashboards.queries import panel_queries
    from sloplane.detect.metric_names import EVENTS, EXPOSED_METRICS

    exprs = [q.expr for q in panel_queries(detectors_dashboard())]
    asked = {e for expr in exprs for e in re.findall(r'event="([^"]+)"', expr)}
    assert asked and asked <= set(EVENTS)
    metric = r"\b(sloplane_[a-z_]+)\b(?!\s*[=!])"  # not a label name such as sloplane_id
    names = {n for expr in exprs for n in re.findall(metric, expr)}
    assert names <= set(EXPOSED_METRICS)


def test_detect_dashboard_writes_what_generate_writes_without_slo_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sloplane.dashboards.detectors import DETECTORS_UID, detectors_dashboard
    from sloplane.dashboards.render import to_json
    from sloplane.slo.naming import dashboard_path

    out = tmp_path / "detectors.json"
    main(["detect", "dashboard", "--out", str(out)])
    assert out.read_text() == to_json(detectors_dashboard())
    assert dashboard_path(DETECTORS_UID) == "grafana/sloplane-detectors.json"
    capsys.readouterr()
    main(["detect", "dashboard"])
    assert capsys.readouterr().out == out.read_text()
