"""Loading SLOs from Python, Sloth, OpenSLO and sloplane/v1 files."""

from __future__ import annotations

import json as json_module
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sloplane import alerts
from sloplane.errors import SpecError
from sloplane.slo.loaders import load, load_catalog, native
from sloplane.slo.model import EventsSLI, LatencySLI, RawSLI

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parents[2] / "examples" / "slos"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems(paths: list[Path | str]) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_catalog(paths)
    return [str(p) for p in info.value.problems]


# -- Sloth ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "sloth").iterdir()))
def test_sloth_documentation_examples_load(name: str) -> None:
    catalog = load_catalog([FIXTURES / "sloth" / name])
    assert catalog.slos
    for slo in catalog.slos:
        assert slo.source.format == "sloth"
        assert slo.source.file.endswith(name)
        assert slo.window == 30 * 86400


def test_sloth_getting_started_maps_every_field() -> None:
    loaded = load([FIXTURES / "sloth" / "getting-started.yml"])
    (slo,) = loaded.catalog.slos
    assert slo.id == "myservice-requests-availability"
    assert slo.objective == 0.999
    assert slo.labels == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2"}
    assert slo.team == "myteam"
    assert isinstance(slo.sli, EventsSLI)
    assert "{{.window}}" in (slo.sli.errors or "")
    assert slo.alerting.name == "MyServiceHighErrorRate"
    assert slo.alerting.page.labels == {"severity": "pageteam", "routing_key": "myteam"}
    assert slo.alerting.ticket.labels["slack_channel"] == "#alerts-myteam"
    assert slo.source.line == 12
    warned = " ".join(str(w) for w in loaded.warnings)
    assert "slo_plugins" in warned and "'for' is not supported" in warned


def test_sloth_crd_and_plain_spec_are_the_same_model() -> None:
    plain = load_catalog([FIXTURES / "sloth" / "getting-started.yml"]).slos[0]
    crd = load_catalog([FIXTURES / "sloth" / "k8s-getting-started.yml"]).slos[0]
    assert plain.model_dump() == crd.model_dump()


def test_sloth_raw_and_disabled_alerts() -> None:
    (raw,) = load_catalog([FIXTURES / "sloth" / "raw-home-wifi.yml"]).slos
    assert isinstance(raw.sli, RawSLI)
    (quiet,) = load_catalog([FIXTURES / "sloth" / "no-alerts.yml"]).slos
    assert not quiet.alerting.page.enabled and not quiet.alerting.ticket.enabled
    assert quiet.all_burn_windows() == ()


def test_sloth_plugin_sli_is_a_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        """\
        version: "prometheus/v1"
        service: svc
        slos:
          - name: avail
            objective: 99
            sli:
              plugin:
                id: sloth-common/kubernetes/apiserver/availability
        """,
    )
    (message,) = problems([path])
    assert "p.yaml:7: svc-avail: field 'slos[0].sli.plugin'" in message
    assert "plugins are not supported" in message


def test_sloth_query_without_window_placeholder(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        version: "prometheus/v1"
        service: svc
        slos:
          - name: avail
            objective: 99.9
            sli:
              events:
                error_query: sum(rate(http_requests_total{code=~"5.."}[5m]))
                total_query: sum(rate(http_requests_total[{{.window}}]))
        """,
    )
    assert problems([path]) == [
        f"{path}:8: svc-avail: field 'slos[0].sli.events.error_query': "
        "query must use the {{.window}} placeholder",
    ]


def test_catalog_checks_name_the_field_and_line_as_written(tmp_path: Path) -> None:
    # checks made after loading (PromQL, placeholders, windows, duplicates) used to name the
    # model field ('sli.errors') at the SLO's first line, whatever the format
    write(
        tmp_path,
        "sloth.yaml",
        """\
        version: "prometheus/v1"
        service: svc
        slos:
          - name: avail
            objective: 99.9
            sli:
              events:
                error_query: sum(rate(e[{{.window}}]))
                total_query: sum(rate(t[5m]))
        """,
    )
    write(
        tmp_path,
        "native.yaml",
        """\
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: native
          name: up
          objective: 99.9
          sli:
            kind: events
            errors: 'x{code="5"'
            total: x
          alerting:
            page:
              windows: [{long: 5m, short: 1h, factor: 14.4}]
        """,
    )
    write(
        tmp_path,
        "openslo.yaml",
        """\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: o}
        spec:
          service: os
          budgetingMethod: Occurrences
          indicator:
            metadata: {name: sli}
            spec:
              ratioMetric:
                counter: true
                bad: {metricSource: {type: Prometheus, spec: {query: 'x{code="5"'}}}
                total: {metricSource: {type: Prometheus, spec: {query: x}}}
          objectives: [{target: 0.99}]
        """,
    )
    found = problems([tmp_path])
    assert [p.split(": ", 3)[:3] for p in found] == [
        [f"{tmp_path}/native.yaml:9", "native-up", "field 'spec.sli.errors'"],
        [f"{tmp_path}/native.yaml:13", "native-up", "field 'spec.alerting.page.windows'"],
        [f"{tmp_path}/openslo.yaml:10", "os-o", "field 'spec.indicator.spec.ratioMetric'"],
        [f"{tmp_path}/sloth.yaml:9", "svc-avail", "field 'slos[0].sli.events.total_query'"],
    ], found
    assert "short window is longer than long" in found[1]
    assert "invalid PromQL" in found[0] and "invalid PromQL" in found[2]


def test_sloth_missing_name_or_objective_says_missing(tmp_path: Path) -> None:
    # these used to read "Input should be a valid string/number", as if a value were given
    events = """\
            sli:
              events:
                error_query: sum(rate(e[{{.window}}]))
                total_query: sum(rate(t[{{.window}}]))
    """
    path = write(
        tmp_path,
        "s.yaml",
        f"""\
        version: "prometheus/v1"
        service: svc
        slos:
          - objective: 99.9
{events}
          - name: avail
{events}
        """,
    )
    assert problems([path]) == [
        f"{path}:4: field 'slos[0].name': missing",
        f"{path}:10: svc-avail: field 'slos[1].objective': missing",
    ]


# -- OpenSLO --------------------------------------------------------------------------


def test_openslo_spec_objects_load_without_slos() -> None:
    catalog = load_catalog([FIXTURES / "openslo" / "inline"])
    assert catalog.slos == ()


def test_openslo_refs_objectives_and_alert_policy() -> None:
    catalog = load_catalog(
        [FIXTURES / "openslo" / "readme-objects.yaml", FIXTURES / "openslo" / "web-shop.yaml"]
    )
    good, great = catalog.slos
    assert (good.id, great.id) == ("web-shop-main-page-good", "web-shop-main-page-great")
    assert (good.objective, great.objective) == (0.99, 0.999)
    assert good.window == 14 * 86400
    assert good.team == "payments"
    assert good.labels == {"team": "payments", "serviceTier": "tier-1"}
    assert isinstance(good.sli, EventsSLI) and good.sli.good is not None
    (page,) = good.burn_windows("page")
    assert (page.long, page.short, page.factor) == (3600, 300, 2.0)
    assert good.burn_windows("ticket") == ()
    assert good.source.format == "openslo"


def test_openslo_unsupported_sources_are_problems() -> None:
    messages = problems([FIXTURES / "bad" / "openslo-readme-datadog-slo.yaml"])
    assert any("'Datadog' is not supported" in m and "SLO/foo-slo" in m for m in messages)
    messages = problems([FIXTURES / "bad" / "openslo-occurences-slo.yaml"])
    assert any("'Any' is not supported" in m for m in messages)


def test_openslo_threshold_metric_maps_to_latency(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lat.yaml",
        """\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: latency}
        spec:
          service: api
          budgetingMethod: Occurrences
          indicator:
            metadata: {name: api-latency}
            spec:
              thresholdMetric:
                metricSource:
                  type: Prometheus
                  spec:
                    query: http_request_duration_seconds_bucket{job="api",route!="/health"}
          objectives:
            - op: lte
              value: 0.3
              target: 0.99
        """,
    )
    (slo,) = load_catalog([path]).slos
    assert slo.sli == LatencySLI(
        metric="http_request_duration_seconds",
        threshold="0.3",
        selector='job="api",route!="/health"',
    )


def test_openslo_raw_ratio_and_broken_refs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "raw.yaml",
        """\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: raw}
        spec:
          service: api
          budgetingMethod: Occurrences
          indicator:
            metadata: {name: raw}
            spec:
              ratioMetric:
                rawType: success
                raw:
                  metricSource:
                    type: Prometheus
                    spec: {query: 'api:success:ratio'}
          objectives: [{target: 0.995}]
        """,
    )
    (slo,) = load_catalog([path]).slos
    assert isinstance(slo.sli, RawSLI)
    assert slo.sli.error_ratio == "1 - (avg_over_time(api:success:ratio[{{.window}}]))"
    broken = write(
        tmp_path,
        "broken/refs.yaml",
        """\
        apiVersion: openslo/v1
        kind: Service
        metadata: {name: other}
        spec: {}
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: s}
        spec:
          service: api
          budgetingMethod: Timeslices
          indicatorRef: nowhere
          objectives: [{target: 0.99}]
          alertPolicies: [{alertPolicyRef: none}]
        """,
    )
    text = "\n".join(problems([broken]))
    assert "indicatorRef 'nowhere' does not resolve" in text
    assert "alertPolicyRef 'none' does not resolve" in text
    assert "service 'api' does not resolve" in text
    assert "'Timeslices' is not supported" in text


# -- Python -----------------------------------------------------------------------------


def test_python_slos_list_and_module_level() -> None:
    catalog = load_catalog([FIXTURES / "python"])
    assert [s.id for s in catalog.slos] == [
        "checkout-availability",
        "checkout-latency",
        "status-page-probe",
    ]
    by_id = {s.id: s for s in catalog.slos}
    assert by_id["checkout-availability"].source.line == 6
    assert by_id["status-page-probe"].source.format == "python"
    assert by_id["status-page-probe"].window == 7 * 86400


def test_python_errors_become_problems_with_lines(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bad_model.py",
        """\
        from sloplane.slo.model import SLO, EventsSLI

        x = 1
        SLOS = [SLO(service="a", name="b", objective=120, sli=EventsSLI(total="t", errors="e"))]
        """,
    )
    write(tmp_path, "boom.py", "import os\n\nraise RuntimeError('nope')\n")
    write(tmp_path, "syntax.py", "x = (\n")
    write(tmp_path, "wrong.py", "SLOS = 3\n")
    text = "\n".join(problems([tmp_path]))
    assert "bad_model.py:4: a-b: field 'objective': objective 120" in text
    assert "boom.py:3: RuntimeError: nope" in text
    assert "syntax.py:1: syntax error" in text
    assert "field 'SLOS': SLOS must be a list" in text


def test_python_model_errors_are_one_problem_per_field_like_yaml(tmp_path: Path) -> None:
    write(
        tmp_path,
        "s.py",
        """\
        from sloplane.slo.model import SLO, AlertTier, AlertWindow, Alerting, EventsSLI

        SLOS = [
            SLO(
                service="api",
                name="availability",
                objectiv=99.9,
                sli=EventsSLI(total="t", errors="e"),
            ),
        ]
        """,
    )
    write(
        tmp_path,
        "nested.py",
        """\
        from sloplane.slo.model import SLO, AlertTier, AlertWindow, Alerting, EventsSLI

        X = SLO(service="web", name="latency", objective=99, sli=EventsSLI(total="t", erors="e"))
        """,
    )
    write(
        tmp_path,
        "dynamic.py",
        """\
        from sloplane.slo.model import SLO, EventsSLI

        def make(name):
            return SLO(service="dyn", name=name, sli=EventsSLI(total="t", errors="e"))

        X = make("x")
        """,
    )
    write(
        tmp_path,
        "y.yaml",
        """\
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: api
          name: yaml
          objectiv: 99.9
          sli: {kind: events, errors: e, total: t}
        """,
    )
    assert problems([tmp_path]) == [
        f"{tmp_path}/dynamic.py:4: dyn-x: field 'objective': missing",
        f"{tmp_path}/nested.py:3: web-latency: field 'sli.erors': unknown field 'erors'"
        " (did you mean 'errors'?)",
        f"{tmp_path}/s.py:4: api-availability: field 'objective': missing",
        f"{tmp_path}/s.py:7: api-availability: field 'objectiv': unknown field 'objectiv'"
        " (did you mean 'objective'?)",
        f"{tmp_path}/y.yaml:3: api-yaml: field 'spec.objective': missing",
        f"{tmp_path}/y.yaml:6: api-yaml: field 'spec.objectiv': unknown field 'objectiv'"
        " (did you mean 'objective'?)",
    ]


def test_python_file_named_like_a_stdlib_module_does_not_shadow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    slo = 'SLO(service="{}", name="a", objective=99, sli=EventsSLI(total="t", errors="e"))'
    header = "from sloplane.slo.model import SLO, EventsSLI\n"
    write(tmp_path, "a/colorsys.py", header + f"X = {slo.format('colorsys')}\n")
    write(tmp_path, "a/json.py", header + f"X = {slo.format('json')}\n")
    write(tmp_path, "a/_helpers.py", "SERVICE = 'first'\n")
    write(
        tmp_path,
        "a/uses.py",
        header
        + "import colorsys, json\nfrom _helpers import SERVICE\n"
        + "assert hasattr(colorsys, 'rgb_to_hsv') and json.dumps(1) == '1'\n"
        + f"X = {slo.format('placeholder')}.model_copy(update={{'service': SERVICE}})\n",
    )
    write(tmp_path, "b/_helpers.py", "SERVICE = 'second'\n")
    write(
        tmp_path,
        "b/other.py",
        header + "from _helpers import SERVICE\n"
        f"X = {slo.format('x')}.model_copy(update={{'service': SERVICE}})\n",
    )
    path_before = list(sys.path)
    catalog = load_catalog([tmp_path])
    assert sorted(s.service for s in catalog.slos) == ["colorsys", "first", "json", "second"]
    assert sys.path == path_before
    assert "_helpers" not in sys.modules
    assert sys.modules["json"] is json_module
    assert not str(getattr(sys.modules.get("colorsys"), "__file__", "")).startswith(str(tmp_path))


_SMUGGLE = """\
    from sloplane.slo.model import SLO, AlertTier, AlertWindow, Alerting, EventsSLI, LatencySLI

    BASE = SLO(service="py", name="{name}", objective=99.9, sli=EventsSLI(total="t", errors="e"))
    SLOS = [{expr}]
    """


def test_python_slos_are_revalidated_so_model_copy_cannot_skip_checks(tmp_path: Path) -> None:
    # model_copy(update=...) and model_construct skip validation: the loader validates again
    cases = {
        "full": 'BASE.model_copy(update={"objective": 1.0})',
        "flag": 'BASE.model_copy(update={"objective": True})',
        "window": 'BASE.model_copy(update={"window": "garbage"})',
        "built": 'SLO.model_construct(service="py", name="built", objective=0.5, window=60,'
        ' sli=EventsSLI(total="t", errors="e"))',
        "sli": 'BASE.model_copy(update={"sli": EventsSLI.model_construct(total="t")})',
        "latency": 'BASE.model_copy(update={"sli": LatencySLI.model_construct('
        'metric="m", threshold=0.3, selector="{job=\\"api\\"}")})',
        "tier": 'BASE.model_copy(update={"alerting": Alerting(page=AlertTier(windows=('
        "AlertWindow.model_construct(long=3600, short=300, factor=-1),)))})",
    }
    for name, expr in cases.items():
        write(tmp_path, f"{name}.py", _SMUGGLE.format(name=name, expr=expr))
    skipped = "(model_copy(update=...) and model_construct skip validation)"
    assert problems([tmp_path]) == [
        f"{tmp_path}/built.py:3: py-built: field 'window': window 1m is outside 1h..90d",
        f"{tmp_path}/flag.py:3: py-flag: field 'objective': "
        f"expected a number, got bool True: {RANGE}",
        f"{tmp_path}/full.py:3: py-full: field 'objective': SLO holds 1.0, which validation "
        f"reads as 0.01 {skipped}: give the value as SLO(...) keeps it",
        f"{tmp_path}/latency.py:3: py-latency: field 'sli.selector': LatencySLI holds "
        f"'{{job=\"api\"}}', which validation reads as 'job=\"api\"' {skipped}: "
        "give the value as LatencySLI(...) keeps it",
        f"{tmp_path}/latency.py:3: py-latency: field 'sli.threshold': LatencySLI holds 0.3, "
        f"which validation reads as '0.3' {skipped}: give the value as LatencySLI(...) keeps it",
        f"{tmp_path}/sli.py:3: py-sli: field 'sli': "
        "give exactly one of 'errors' or 'good' next to 'total'",
        f"{tmp_path}/tier.py:3: py-tier: field 'alerting.page.windows.0.factor': "
        "Input should be greater than 0",
        f"{tmp_path}/window.py:3: py-window: field 'window': invalid duration 'garbage': "
        "use a number followed by s, m, h, d or w, e.g. 30d or 1h30m",
    ]
    cli = [sys.executable, "-m", "sloplane.cli", "validate"]
    for name in ("full", "window"):
        result = subprocess.run(
            [*cli, str(tmp_path / f"{name}.py")], capture_output=True, text=True, check=False
        )
        assert result.returncode == 1, result
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith(f"error: {tmp_path}/{name}.py:3: py-{name}: field "), errors


def test_python_revalidation_keeps_subclasses_and_valid_copies(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sub.py",
        """\
        from sloplane.slo.model import SLO, EventsSLI

        class TeamSLO(SLO):
            pass

        class ShopEvents(EventsSLI):
            pass

        BASE = TeamSLO(service="sub", name="a", objective=99, sli=ShopEvents(total="t", errors="e"))
        SLOS = [BASE, BASE.model_copy(update={"name": "b"})]
        """,
    )
    catalog = load_catalog([tmp_path])
    assert [s.id for s in catalog.slos] == ["sub-a", "sub-b"]
    assert all(type(s).__name__ == "TeamSLO" for s in catalog.slos)
    assert all(type(s.sli).__name__ == "ShopEvents" for s in catalog.slos)


# -- objectives in every format -----------------------------------------------------------

RANGE = "give a ratio 0 < x < 1 (0.999) or a percentage 1 <= x < 100 (99.9)"
KEPT = "(objectives are kept as ratios to 12 decimal places)"


def _python_slo(name: str, objective: str) -> str:
    return f"""\
        from decimal import Decimal
        from fractions import Fraction
        from sloplane.slo.model import SLO, EventsSLI

        SLOS = [
            SLO(
                service="py",
                name="{name}",
                objective={objective},
                sli=EventsSLI(total="t", errors="e"),
            ),
        ]
        """


def test_bool_and_degenerate_objectives_are_problems_in_every_format(tmp_path: Path) -> None:
    write(tmp_path, "py/flag.py", _python_slo("flag", "True"))
    write(tmp_path, "py/off.py", _python_slo("off", "False"))
    write(tmp_path, "py/decimal.py", _python_slo("decimal", 'Decimal("100")'))
    write(tmp_path, "py/fraction.py", _python_slo("fraction", "Fraction(1, 10**13)"))
    write(tmp_path, "py/tiny.py", _python_slo("tiny", "1e-13"))
    write(
        tmp_path,
        "sloth.yaml",
        """\
        version: prometheus/v1
        service: shop
        slos:
          - name: flag
            objective: true
            sli:
              raw: {error_ratio_query: "sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"}
          - name: tiny
            objective: 0.0000000000001
            sli:
              raw: {error_ratio_query: "sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"}
          - name: text
            objective: "99.99999999999999%"
            sli:
              raw: {error_ratio_query: "sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"}
        """,
    )
    write(
        tmp_path,
        "native.yaml",
        """\
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: native
          name: flag
          objective: false
          sli: {kind: events, errors: e, total: t}
        ---
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: native
          name: tiny
          objective: 0.0000000000001
          sli: {kind: events, errors: e, total: t}
        """,
    )
    write(
        tmp_path,
        "openslo.yaml",
        """\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: o}
        spec:
          service: os
          budgetingMethod: Occurrences
          indicator:
            metadata: {name: sli}
            spec:
              ratioMetric:
                counter: true
                bad: {metricSource: {type: Prometheus, spec: {query: 'x{code="5"}'}}}
                total: {metricSource: {type: Prometheus, spec: {query: x}}}
          objectives:
            - target: true
            - {displayName: tiny, target: 0.0000000000001}
            - {displayName: tinyp, targetPercent: 0.00000000001}
            - {displayName: full, target: 0.99999999999999}
        """,
    )
    assert problems([tmp_path]) == [
        f"{tmp_path}/native.yaml:6: native-flag: field 'spec.objective': "
        f"expected a number, got bool False: {RANGE}",
        f"{tmp_path}/native.yaml:14: native-tiny: field 'spec.objective': "
        f"objective 1e-13 is out of range: it rounds to 0% {KEPT}; {RANGE}",
        f"{tmp_path}/openslo.yaml:15: SLO/o: field 'spec.objectives[0].target': "
        "expected a number, got bool True",
        f"{tmp_path}/openslo.yaml:16: SLO/o: field 'spec.objectives[1].target': "
        f"target 1e-13 is out of range: it rounds to 0% {KEPT}",
        f"{tmp_path}/openslo.yaml:17: SLO/o: field 'spec.objectives[2].targetPercent': "
        f"targetPercent 1e-11 is out of range: it rounds to 0% {KEPT}",
        f"{tmp_path}/openslo.yaml:18: SLO/o: field 'spec.objectives[3].target': "
        f"target 0.99999999999999 is out of range: it rounds to 100% {KEPT}",
        f"{tmp_path}/py/decimal.py:9: py-decimal: field 'objective': "
        f"objective 100 is out of range: {RANGE}",
        f"{tmp_path}/py/flag.py:9: py-flag: field 'objective': "
        f"expected a number, got bool True: {RANGE}",
        f"{tmp_path}/py/fraction.py:9: py-fraction: field 'objective': "
        f"objective 1/10000000000000 is out of range: it rounds to 0% {KEPT}; {RANGE}",
        f"{tmp_path}/py/off.py:9: py-off: field 'objective': "
        f"expected a number, got bool False: {RANGE}",
        f"{tmp_path}/py/tiny.py:9: py-tiny: field 'objective': "
        f"objective 1e-13 is out of range: it rounds to 0% {KEPT}; {RANGE}",
        f"{tmp_path}/sloth.yaml:5: shop-flag: field 'slos[0].objective': "
        f"expected a number, got bool True: {RANGE}",
        f"{tmp_path}/sloth.yaml:9: shop-tiny: field 'slos[1].objective': "
        f"objective 1e-13 is out of range: it rounds to 0% {KEPT}; {RANGE}",
        f"{tmp_path}/sloth.yaml:13: shop-text: field 'slos[2].objective': "
        f"objective '99.99999999999999%' is out of range: it rounds to 100% {KEPT}; {RANGE}",
    ]


def test_decimal_and_fraction_objectives_load_as_numbers(tmp_path: Path) -> None:
    write(tmp_path, "decimal.py", _python_slo("decimal", 'Decimal("99.9")'))
    write(tmp_path, "fraction.py", _python_slo("fraction", "Fraction(199, 2)"))
    catalog = load_catalog([tmp_path])
    assert [(s.id, s.objective) for s in catalog.slos] == [
        ("py-decimal", 0.999),
        ("py-fraction", 0.995),
    ]
    assert all(type(s.objective) is float for s in catalog.slos)


# -- sloplane/v1, documents, detection ---------------------------------------------------


def test_sloplane_documents_and_native_slo(tmp_path: Path) -> None:
    write(
        tmp_path,
        "routing.yaml",
        """\
        apiVersion: sloplane/v1
        kind: AlertRouting
        spec: {receivers: []}
        ---
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: redis
          name: up
          objective: 99.9
          window: 28d
          sli: {kind: availability, gauge: redis_up}
        """,
    )
    write(tmp_path, "README.md", "# ignored\n")
    write(tmp_path, "data.json", "{}")
    write(tmp_path, ".hidden/x.yaml", "not: [valid")
    catalog = load_catalog([tmp_path])
    (doc,) = catalog.documents_of("AlertRouting")
    assert doc.body["spec"] == {"receivers": []}
    assert doc.source.line == 1
    (slo,) = catalog.slos
    assert slo.window == 28 * 86400 and slo.source.format == "sloplane"


def test_sloplane_v1_problems_name_the_whole_path_at_the_nearest_written_key(
    tmp_path: Path,
) -> None:
    # these read 'spec.sli: missing' (and 'spec.alerting.page.windows'): the path stopped at
    # the last key the user wrote, so nothing said which field was missing or wrong
    path = write(
        tmp_path,
        "native.yaml",
        """\
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: native
          name: up
          objective: 99.9
          sli:
            kind: events
            errors: x
          alerting:
            page:
              windows:
                - long: 1h
                  factor: 14.4
                - long: 6h
                  short: 30m
                  factor: six
        ---
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: native
          name: latency
          objective: 99
          sli: {kind: latency, metric: m}
        ---
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: native
          name: gauge
          objective: 99
          sli:
            gauge: up
        """,
    )
    assert problems([path]) == [
        f"{path}:7: native-up: field 'spec.sli.total': missing",
        f"{path}:13: native-up: field 'spec.alerting.page.windows[0].short': missing",
        f"{path}:17: native-up: field 'spec.alerting.page.windows[1].factor': "
        "expected a number, got text",
        f"{path}:25: native-latency: field 'spec.sli.threshold': missing",
        f"{path}:33: native-gauge: field 'spec.sli.kind': missing",
    ]


def test_sloplane_v1_catalog_checks_name_the_whole_path_too(tmp_path: Path) -> None:
    # the page tier was not written: the warning is about spec.alerting.page (at the line of
    # alerting), not about all of spec.alerting
    path = write(
        tmp_path,
        "native.yaml",
        """\
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: native
          name: up
          objective: 90
          sli: {kind: availability, gauge: up}
          alerting:
            ticket: {enabled: true}
        """,
    )
    warnings = [str(w) for w in load([path]).warnings]
    assert [w.split(": ", 3)[:3] for w in warnings] == [
        [f"{path}:8", "native-up", "field 'spec.alerting.page'"],
    ], warnings
    assert "page alert over 1h can never fire" in warnings[0]


def test_unknown_documents_and_yaml_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "metadata: {name: x}\nkind: ConfigMap\n")
    write(tmp_path, "b.yaml", "version: prometheus/v1\nservice: x\nslos: [\n")
    write(tmp_path, "c.yml", "- just\n- a list\n")
    write(tmp_path, "d.yaml", "apiVersion: openslo/v1alpha\nkind: SLO\n")
    write(tmp_path, "e.yaml", "a: 1\na: 2\n")
    write(tmp_path, "f.yaml", "version: prometheus/v1\nservice: x\nslos: [a\n")
    text = "\n".join(problems([tmp_path]))
    assert "a.yaml:1: not a recognised document" in text
    assert "b.yaml:4: YAML error" in text
    # the error is at the end of the file; the context says where the unclosed list began
    assert "f.yaml:4: YAML error: while parsing a flow sequence (opened on line 3): " in text
    assert "c.yml:1: not a recognised document" in text and "(got a list)" in text
    assert "LineList" not in text  # the loader's own type names are not the user's words
    assert "openslo/v1alpha is not supported" in text
    assert "e.yaml:2: YAML error" in text and "duplicate key" in text


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("sloplane/v2", "SLO"),
        ("sloth.slok.dev/v1", "ServiceLevel"),
        ("openslo/v2", "SLO"),
        ("sloplane/v1", ""),
        ("sloplane/v1", "AlertRoutng"),
    ],
)
def test_unknown_kinds_in_slo_api_groups_stay_errors(tmp_path: Path, api: str, kind: str) -> None:
    write(tmp_path, "x.yaml", f"apiVersion: {api}\nkind: '{kind}'\n")
    assert problems([tmp_path])


def test_unknown_sloplane_kind_is_a_problem_with_a_suggestion(tmp_path: Path) -> None:
    # a typo'd kind was kept as a document nobody reads: the build silently had no routing
    path = write(tmp_path, "r.yaml", "apiVersion: sloplane/v1\nkind: AlertRoutng\nspec: {}\n")
    assert problems([path]) == [
        f"{path}:2: field 'kind': unknown sloplane/v1 kind 'AlertRoutng' "
        "(did you mean 'AlertRouting'?); the kinds are AlertRouting, SLO",
    ]
    assert alerts.KIND in native.DOCUMENT_KINDS


def test_foreign_kubernetes_documents_are_skipped_with_a_warning(tmp_path: Path) -> None:
    write(
        tmp_path,
        "kustomization.yaml",
        """\
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [slos.yaml]
        """,
    )
    write(
        tmp_path,
        "slos.yaml",
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {a: b}
        ---
        apiVersion: monitoring.coreos.com/v1
        kind: PrometheusRule
        spec: {groups: []}
        ---
        apiVersion: sloplane/v1
        kind: SLO
        spec:
          service: redis
          name: up
          objective: 99.9
          sli: {kind: availability, gauge: redis_up}
        """,
    )
    loaded = load([tmp_path])
    assert [s.id for s in loaded.catalog.slos] == ["redis-up"]
    skipped = [str(w) for w in loaded.warnings if "not an SLO document" in w.message]
    assert skipped == [
        f"{tmp_path}/kustomization.yaml:1: not an SLO document (apiVersion"
        " kustomize.config.k8s.io/v1beta1, kind Kustomization); skipped. Keep SLO definitions"
        " in their own directory to silence this",
        f"{tmp_path}/slos.yaml:1: not an SLO document (apiVersion v1, kind ConfigMap); skipped."
        " Keep SLO definitions in their own directory to silence this",
        f"{tmp_path}/slos.yaml:6: not an SLO document (apiVersion monitoring.coreos.com/v1,"
        " kind PrometheusRule); skipped. Keep SLO definitions in their own directory to"
        " silence this",
    ]


def test_sloth_severity_label_is_kept_and_our_tier_is_in_sloth_severity() -> None:
    # Issue 14 reverses the old behaviour (replaced with a warning): the author's value is kept.
    from sloplane.slo.naming import Labels
    from sloplane.slo.rules.alerts import alert_labels

    loaded = load([FIXTURES / "sloth" / "getting-started.yml"])
    assert not [w for w in loaded.warnings if "severity" in w.field]
    (slo,) = loaded.catalog.slos
    page = alert_labels(slo, Labels("sloth"), "page")
    assert (page["severity"], page["sloth_severity"]) == ("pageteam", "page")
    ticket = alert_labels(slo, Labels("sloth"), "ticket")
    assert (ticket["severity"], ticket["sloth_severity"]) == ("slack", "ticket")


def test_unknown_fields_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        version: "prometheus/v1"
        service: svc
        slos:
          - name: avail
            objectve: 99.9
            sli:
              events:
                error_query: sum(rate(e[{{.window}}]))
                total_query: sum(rate(t[{{.window}}]))
        """,
    )
    text = "\n".join(problems([path]))
    assert "s.yaml:5: svc-avail: field 'slos[0].objectve': unknown field 'objectve'" in text
    assert "did you mean 'objective'" in text


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "sloth" / "getting-started.yml", tmp_path / "a.yml")
    shutil.copy(FIXTURES / "sloth" / "k8s-getting-started.yml", tmp_path / "b.yml")
    messages = problems([tmp_path])
    assert len(messages) == 2
    assert all("myservice-requests-availability" in m for m in messages)
    assert "a.yml:12" in messages[1] and "b.yml" in messages[0]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    (message,) = problems([tmp_path / "nope"])
    assert "no such file or directory" in message


def test_loading_is_deterministic() -> None:
    sloth = [FIXTURES / "sloth" / "home-wifi.yml", FIXTURES / "sloth" / "kubernetes-apiserver.yml"]
    first = load_catalog([*sloth, FIXTURES / "python"])
    second = load_catalog([FIXTURES / "python", *reversed(sloth)])
    assert [s.model_dump() for s in first.slos] == [s.model_dump() for s in second.slos]


def test_examples_load_together() -> None:
    catalog = load_catalog([EXAMPLES])
    assert {s.source.format for s in catalog.slos} == {"python", "openslo", "sloth"}
    assert set(catalog.teams()) <= {"platform", "payments", "data", "edge"}
    assert [d.kind for d in catalog.documents] == ["AlertRouting"]


def test_openslo_example_comment_matches_its_conditions() -> None:
    path = EXAMPLES / "openslo" / "payments-api.yaml"
    text = path.read_text()
    assert "Two of the workbook's four conditions" in text
    slo = {s.id: s for s in load_catalog([path]).slos}["payments-api-availability"]
    page, ticket = slo.alerting.page.windows, slo.alerting.ticket.windows
    assert page is not None and ticket is not None
    assert [(w.long, w.factor) for w in (*page, *ticket)] == [(3600, 13.44), (86400, 2.8)]
    # 2% of a 28-day budget in 1h and 10% in 1d, as the comment says
    assert round(0.02 * 28 * 24, 2) == 13.44 and round(0.1 * 28, 2) == 2.8
