"""OpenSLO v1 as the go-sdk reads it, and no SLO document ever dropped silently (issue 14).

Fixtures are ours, in tests/fixtures/, written after the OpenSLO spec and go-sdk types.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sloplane.errors import SpecError
from sloplane.slo.loaders import load
from sloplane.slo.loaders.formats import LOADERS
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
