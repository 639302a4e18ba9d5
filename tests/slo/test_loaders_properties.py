"""Property tests: bad input only ever raises SpecError; valid generated specs load as expected."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sloplane.errors import SpecError
from sloplane.slo.loaders import load_catalog
from sloplane.slo.model import EventsSLI
from tests.slo.strategies import refused_objectives

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["prometheus/v1", "openslo/v1", "sloth.slok.dev/v1", "{{.window}}", "5m"]),
)
keys = st.sampled_from(
    [
        "version",
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "service",
        "slos",
        "name",
        "objective",
        "sli",
        "events",
        "raw",
        "error_query",
        "total_query",
        "alerting",
        "page_alert",
        "labels",
        "indicator",
        "objectives",
        "target",
        "timeWindow",
        "ratioMetric",
        "alertPolicies",
    ]
) | st.text(max_size=8)
yaml_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


def _load_text(text: str | bytes, suffix: str = ".yaml") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        try:
            load_catalog([path])
        except SpecError as exc:
            assert exc.problems
            assert not any("internal error" in p.message for p in exc.problems)


@SETTINGS
@given(st.lists(yaml_values, min_size=1, max_size=3))
def test_random_yaml_structures_raise_only_spec_error(docs: list[Any]) -> None:
    _load_text(yaml.safe_dump_all(docs))


kinds = st.sampled_from(
    [
        {"version": "prometheus/v1"},
        {"apiVersion": "sloth.slok.dev/v1", "kind": "PrometheusServiceLevel"},
        {"apiVersion": "openslo/v1", "kind": "SLO"},
        {"apiVersion": "openslo/v1", "kind": "SLI"},
        {"apiVersion": "openslo/v1", "kind": "AlertPolicy"},
        {"apiVersion": "sloplane/v1", "kind": "SLO"},
    ]
)


@SETTINGS
@given(kinds, st.dictionaries(keys, yaml_values, max_size=5))
def test_random_fields_in_known_kinds_raise_only_spec_error(
    head: dict[str, Any], body: dict[str, Any]
) -> None:
    _load_text(yaml.safe_dump({**body, **head}))


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_spec_error(data: bytes) -> None:
    _load_text(data)


@SETTINGS
@given(st.text(max_size=200))
def test_random_python_raises_only_spec_error(text: str) -> None:
    _load_text(text, suffix=".py")


names = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
# Words PromQL's parser reads as keywords or numbers, never as a metric name: a query on
# them (`on{code=~"5.."}`, `inf`) is invalid PromQL, so no spec using them is valid.
NOT_METRIC_NAMES = {"on", "bool", "ignoring", "group_left", "group_right", "atan2", "inf", "nan"}
metrics = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True).filter(
    lambda m: m not in NOT_METRIC_NAMES
)
objectives = st.integers(1, 9999).map(lambda n: round(90 + n / 1000, 3))


@SETTINGS
@given(names, st.lists(names, min_size=1, max_size=4, unique=True), metrics, objectives)
def test_generated_sloth_specs_load(service: str, slos: list[str], metric: str, obj: float) -> None:
    spec = {
        "version": "prometheus/v1",
        "service": service,
        "labels": {"team": "data"},
        "slos": [
            {
                "name": name,
                "objective": obj,
                "sli": {
                    "events": {
                        "error_query": f'sum(rate({metric}{{code=~"5.."}}[{{{{.window}}}}]))',
                        "total_query": f"sum(rate({metric}[{{{{.window}}}}]))",
                    }
                },
                "alerting": {"page_alert": {"disable": i % 2 == 0}},
            }
            for i, name in enumerate(slos)
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump(spec))
        catalog = load_catalog([path])
    assert [s.id for s in catalog.slos] == sorted(f"{service}-{n}" for n in slos)
    for slo in catalog.slos:
        assert slo.objective == round(obj / 100, 12)
        assert slo.team == "data"
        assert isinstance(slo.sli, EventsSLI)
        assert slo.alerting.page.enabled == (slos.index(slo.name) % 2 == 1)


@SETTINGS
@given(
    names,
    st.lists(names, min_size=2, max_size=4, unique=True),
    st.data(),
    refused_objectives,
    st.sampled_from(["sloth", "sloplane"]),
)
def test_a_refused_objective_is_one_problem_at_its_field(
    service: str, slos: list[str], data: st.DataObject, refused: Any, fmt: str
) -> None:
    bad = data.draw(st.integers(0, len(slos) - 1), label="bad")
    objective = {i: (refused if i == bad else 99.9) for i in range(len(slos))}
    if fmt == "sloth":
        raw = {
            "raw": {"error_ratio_query": "sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"}
        }
        items = [{"name": n, "objective": objective[i], "sli": raw} for i, n in enumerate(slos)]
        docs: list[Any] = [{"version": "prometheus/v1", "service": service, "slos": items}]
        field = f"slos[{bad}].objective"
    else:
        sli = {"kind": "events", "errors": "e", "total": "t"}
        docs = [
            {
                "apiVersion": "sloplane/v1",
                "kind": "SLO",
                "spec": {"service": service, "name": n, "objective": objective[i], "sli": sli},
            }
            for i, n in enumerate(slos)
        ]
        field = "spec.objective"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        try:
            load_catalog([path])
        except SpecError as exc:
            problems = exc.problems
        else:
            raise AssertionError(f"objective {refused!r} was accepted")
    (problem,) = problems
    assert (problem.obj, problem.field) == (f"{service}-{slos[bad]}", field)
    assert problem.line is not None
    expected = "expected a number, got bool" if isinstance(refused, bool) else "out of range"
    assert problem.message.startswith(("objective ", expected)) and expected in problem.message


@SETTINGS
@given(names, names, metrics, st.integers(1, 9998), st.sampled_from(["7d", "2w", "28d", "30d"]))
def test_generated_openslo_specs_load(
    service: str, name: str, metric: str, per10k: int, window: str
) -> None:
    docs = [
        {
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {"name": name, "labels": {"team": "platform"}},
            "spec": {
                "service": service,
                "budgetingMethod": "Occurrences",
                "timeWindow": [{"duration": window, "isRolling": True}],
                "indicator": {
                    "metadata": {"name": "sli"},
                    "spec": {
                        "ratioMetric": {
                            "counter": True,
                            "bad": _source(f'{metric}{{code=~"5.."}}'),
                            "total": _source(metric),
                        }
                    },
                },
                "objectives": [{"target": per10k / 10000}],
            },
        }
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "o.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        (slo,) = load_catalog([path]).slos
    assert slo.id == f"{service}-{name}"
    assert slo.objective == round(per10k / 10000, 12)
    assert slo.team == "platform"
    assert slo.sli == EventsSLI(errors=f'{metric}{{code=~"5.."}}', total=metric)


def _source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}
