"""OpenSLO v1 as the go-sdk reads it, and no SLO document ever dropped silently (issue 14).

Fixtures are ours, in tests/fixtures/, written after the OpenSLO spec and go-sdk types.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.errors import SpecError
from sloplane.located import Where
from sloplane.slo.loaders import load, openslo
from sloplane.slo.loaders.formats import LOADERS, Context, dispatch
from sloplane.slo.model import EventsSLI, LatencySLI

FIXTURES = Path(__file__).parents[1] / "fixtures"


def problems_of(*paths: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(list(paths))
    return [str(p) for p in info.value.problems]


def test_top_level_list_service_without_spec_and_condition_op() -> None:
    loaded = load([FIXTURES / "openslo" / "list.yaml", FIXTURES / "openslo" / "search.json"])
    slo = loaded.catalog.by_id("orders-checkout-availability")
    assert slo is not None
    assert slo.sli == EventsSLI(
        errors='orders_checkout_total{outcome="error"}', total="orders_checkout_total"
    )
    assert slo.objective == 0.995 and slo.window_text == "28d"
    (page,) = slo.burn_windows("page")
    assert (page.long, page.short, page.factor) == (3600, 300, 14.4)
    assert slo.burn_windows("ticket") == ()
    assert slo.source.line == 27  # the list item's line, not the file's first line


def test_json_objects_load_and_other_json_is_skipped_with_a_warning() -> None:
    loaded = load([FIXTURES / "openslo"])
    slo = loaded.catalog.by_id("search-search-latency")
    assert slo is not None
    assert slo.sli == LatencySLI(
        metric="search_request_duration_seconds", threshold="0.25", selector='route="/q"'
    )
    assert slo.window_text == "7d"
    assert [str(w) for w in loaded.warnings if "package.json" in str(w)] == [
        f"{FIXTURES / 'openslo' / 'package.json'}:1: not an SLO document; skipped"
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openslo-v2alpha.yaml", "OpenSLO openslo.com/v2alpha is not supported"),
        ("openslo-v1alpha.yaml", "OpenSLO openslo/v1alpha is not supported"),
        ("openslo-lt-burn.yaml", "field 'spec.condition.op': op 'lt' is not supported"),
        ("other-tool-slo.yaml", "an SLO in a format sloplane does not read"),
    ],
)
def test_slos_we_do_not_read_are_errors_naming_why(name: str, expected: str) -> None:
    found = problems_of(FIXTURES / "bad" / name)
    assert len(found) == 1 and expected in found[0], found


def test_an_unknown_slo_document_fails_the_whole_load_not_just_itself(tmp_path: Path) -> None:
    # Loading stops even though the other file is fine: an SLO is never silently dropped.
    found = problems_of(
        FIXTURES / "openslo" / "list.yaml", FIXTURES / "bad" / "openslo-v2alpha.yaml"
    )
    assert len(found) == 1


def test_the_loaders_end_with_the_refusals() -> None:
    names = [loader.name for loader in LOADERS]
    assert names[-3:] == ["foreign-slo", "foreign", "unknown"]
    assert LOADERS[-1].matches({})


GROUPS = st.sampled_from(
    [
        "openslo",
        "openslo.com",
        "sloth.slok.dev",
        "pyrra.dev",
        "sre.google.com",
        "sloplane",
        "monitoring.example.com",
        "v1",
        "",
    ]
)
KINDS = st.sampled_from(
    [
        "SLO",
        "ServiceLevelObjective",
        "PrometheusServiceLevel",
        "AlertWindows",
        "ConfigMap",
        "SLI",
        "Service",
        "Whatever",
        "",
    ]
)


@settings(max_examples=80, deadline=None)
@given(
    group=GROUPS,
    version=st.sampled_from(["v1", "v1alpha", "v2alpha", "v1alpha1", "v2"]),
    kind=KINDS,
    spec=st.dictionaries(st.sampled_from(["service", "x"]), st.text(max_size=5)),
)
def test_no_document_is_dropped_silently(
    group: str, version: str, kind: str, spec: dict[str, str]
) -> None:
    """Whatever a document is, it becomes an SLO, a document, a problem or a warning."""
    ctx = Context()
    doc = {
        "apiVersion": f"{group}/{version}" if group else version,
        "kind": kind,
        "metadata": {"name": "x"},
        "spec": spec,
    }
    dispatch(doc, Where("f.yaml", line=1), ctx)
    ctx.slos.extend(openslo.load(ctx.pending_openslo, ctx.report))
    outcome = ctx.slos or ctx.documents or ctx.report.problems or ctx.report.warnings
    kept_as_object = bool(ctx.pending_openslo) and kind in {"Service", "SLI"}
    assert outcome or kept_as_object, doc
    if kind in {"SLO", "ServiceLevelObjective", "PrometheusServiceLevel", "SLI"} and not ctx.slos:
        assert ctx.report.problems or kept_as_object, doc  # an SLO is never only a warning
