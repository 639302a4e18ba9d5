"""Pyrra ServiceLevelObjectives and slo-generator SLO configs load as their tools read them (issue 14).

Fixtures are ours (tests/fixtures/pyrra, tests/fixtures/slo_generator), written after the
Pyrra CRD types and slo-generator's v2 config format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.artifacts import GenerateSettings
from sloplane.errors import SpecError
from sloplane.slo.loaders import load
from sloplane.slo.loaders.pyrra import pyrra_windows
from sloplane.slo.model import AvailabilitySLI, EventsSLI, LatencySLI, RawSLI
from sloplane.slo.rules import compile_rules

FIXTURES = Path(__file__).parents[1] / "fixtures"


def catalog_of(*names: str):  # type: ignore[no-untyped-def]
    return load([FIXTURES / n for n in names])


def test_pyrra_ratio_maps_target_window_grouping_and_labels() -> None:
    slo = catalog_of("pyrra/ratio.yaml").catalog.by_id("storefront-api-errors")
    assert slo is not None
    assert slo.objective == 0.995 and slo.window_text == "14d"
    assert slo.sli == EventsSLI(
        errors='storefront_http_requests_total{job="api",code=~"5.."}',
        total='storefront_http_requests_total{job="api"}',
    )
    assert slo.group_by == ("route",)
    assert slo.labels == {"team": "web"} and slo.team == "web"
    assert slo.rule_labels == {"prometheus": "k8s", "role": "alert-rules"}
    assert slo.alerting.name == "StorefrontApiErrors"
    assert slo.alerting.page.labels == {"severity": "critical"}
    assert slo.alerting.ticket.labels == {"severity": "warning"}
    assert slo.alerting.no_data.enabled  # Pyrra's absent alert is on by default


def test_pyrra_metadata_labels_select_the_prometheus_rule() -> None:
    catalog = catalog_of("pyrra/ratio.yaml").catalog
    out = compile_rules(catalog, GenerateSettings(rule_format="prometheus-operator"))
    resource = yaml.safe_load(out["prometheus-operator/storefront.yaml"])
    assert resource["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "sloplane",
        "prometheus": "k8s",
        "role": "alert-rules",
    }


def test_pyrra_latency_native_latency_and_burn_rate_table() -> None:
    catalog = catalog_of("pyrra/latency.yaml").catalog
    latency = catalog.by_id("storefront-api-latency")
    assert latency is not None and latency.sli == LatencySLI(
        metric="storefront_request_seconds", threshold="0.25", selector='job="api"'
    )
    assert not latency.alerting.no_data.enabled  # absent: false
    native = catalog.by_id("storefront-rpc-latency")
    assert native is not None and native.sli == LatencySLI(
        metric="storefront_rpc_duration_seconds",
        threshold="0.2",
        selector='service="cart"',
        native=True,
    )
    # sloplane.dev/burn-rates: pyrra -> Pyrra's 28d table: 14x 1h/5m, 7x 6h/30m, 2x 1d/2h, 1x 4d/6h
    assert [(w.long, w.short, w.factor) for w in native.all_burn_windows()] == [
        (3600, 300, 14),
        (6 * 3600, 1800, 7),
        (86400, 7200, 2),
        (4 * 86400, 6 * 3600, 1),
    ]


def test_pyrra_bool_gauge_alerting_switches_and_fields_without_equivalent() -> None:
    loaded = catalog_of("pyrra/bool-gauge.yaml")
    up = loaded.catalog.by_id("homepage-probe-up")
    assert up is not None and up.sli == AvailabilitySLI(
        gauge='probe_success{instance="https://shop.example.com"}'
    )
    assert up.all_burn_windows() == () and up.alerting.no_data.enabled  # burnrates: false
    legacy = loaded.catalog.by_id("homepage-probe-legacy")
    assert legacy is not None and legacy.all_burn_windows() == ()
    assert not legacy.alerting.no_data.enabled  # disabled: true turns everything off
    named = sorted(w.field for w in loaded.warnings)
    assert named == [
        "spec.alerting.absentName",
        "spec.partial_response_strategy",
        "spec.performanceOverAccuracy",
    ]


@given(st.sampled_from([7, 14, 28, 30, 56]))
def test_pyrra_table_scales_with_the_window_like_pyrra(days: int) -> None:
    windows = pyrra_windows(days * 86400, {})
    page = windows["page"]["windows"]
    assert [w["factor"] for w in page] == [14.0, 7.0]
    assert [w["factor"] for w in windows["ticket"]["windows"]] == [2.0, 1.0]
    if days == 28:
        assert (page[0]["long"], page[0]["short"]) == ("1h", "5m")


def test_slo_generator_methods() -> None:
    catalog = catalog_of("slo_generator").catalog
    ratio = catalog.by_id("checkout-web-availability")
    assert ratio is not None and ratio.sli == EventsSLI(
        good='checkout_http_requests_total{code!~"5.."}', total="checkout_http_requests_total"
    )
    assert ratio.objective == 0.995 and ratio.window_text == "28d"
    query = catalog.by_id("checkout-api-success")
    assert query is not None and isinstance(query.sli, RawSLI)
    assert query.sli.error_ratio.startswith("1 - (\nsum(rate(checkout_api_calls_total{ok=")
    assert "[{{.window}}]" in query.sli.error_ratio and "[window]" not in query.sli.error_ratio
    assert query.window_text == "7d"
    cut = catalog.by_id("checkout-api-latency")
    assert cut is not None and cut.sli == LatencySLI(
        metric="checkout_api_seconds", threshold="0.5", selector='route="/pay"'
    )


def test_slo_generator_other_backends_are_refused_in_one_line() -> None:
    with pytest.raises(SpecError) as info:
        load([FIXTURES / "bad" / "slo-generator-cloud-monitoring.yaml"])
    (problem,) = info.value.problems
    assert "backend 'cloud_monitoring' is not supported" in str(problem)


def test_bad_pyrra_documents_are_one_line_each() -> None:
    with pytest.raises(SpecError) as info:
        load([FIXTURES / "bad" / "pyrra.yaml"])
    assert [(p.line, p.obj, p.field) for p in info.value.problems] == [
        (3, "no-service", "metadata"),
        (18, "shop-broken", "spec.target"),
        (19, "shop-broken", "spec.window"),
        (22, "shop-broken", "spec.indicator.latencyNative.latency"),
        (26, "shop-broken", "spec.alerting.burnrates"),
        (28, "", ""),
    ]
    assert "pyrra.dev/v1alpha2" in info.value.problems[-1].message


def test_bad_slo_generator_configs_are_one_line_each() -> None:
    with pytest.raises(SpecError) as info:
        load([FIXTURES / "bad" / "slo-generator.yaml"])
    assert [(p.line, p.obj, p.field) for p in info.value.problems] == [
        (4, "no-labels", "metadata.labels"),
        (21, "shop-query", "spec.service_level_indicator.expression"),
        (32, "shop-cut", "spec.service_level_indicator.expression"),
        (42, "shop-method", "spec.method"),
    ]


@settings(max_examples=40, deadline=None)
@given(percent=st.decimals(min_value="1", max_value="99.999", places=3))
def test_pyrra_target_is_always_a_percent(
    tmp_path_factory: pytest.TempPathFactory, percent
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("pyrra") / "slo.yaml"
    path.write_text(
        "apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n"
        "metadata: {name: p, namespace: s}\n"
        f'spec: {{target: "{percent}", window: 28d, indicator: {{bool_gauge: {{metric: up}}}}}}\n'
    )
    (slo,) = load([path]).catalog.slos
    assert slo.objective == round(float(percent) / 100, 12)
