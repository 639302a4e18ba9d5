"""Catalog validation and the PromQL helpers it relies on."""

from __future__ import annotations

import promql_parser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.slo.catalog import Catalog
from sloplane.slo.model import (
    SLO,
    Alerting,
    AlertTier,
    AlertWindow,
    AvailabilitySLI,
    EventsSLI,
    LatencySLI,
    RawSLI,
    Source,
)
from sloplane.slo.promql import (
    PromQLError,
    has_placeholder,
    parse_error,
    render_template,
    selectors,
    window_query,
    windowed,
)
from sloplane.slo.validate import validate_catalog, warnings_for


def slo(name: str = "avail", file: str = "a.py", fmt: str = "python", **kw: object) -> SLO:
    base: dict[str, object] = {
        "service": "api",
        "name": name,
        "objective": 99.9,
        "sli": EventsSLI(errors='http_requests_total{code=~"5.."}', total="http_requests_total"),
    }
    base.update(kw)
    made = SLO.model_validate(base)
    return made.model_copy(update={"source": Source(file=file, line=3, format=fmt)})


def messages(*slos: SLO) -> list[str]:
    return [str(p) for p in validate_catalog(Catalog.of(slos))]


# -- promql ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "group_by", "expected"),
    [
        (
            'http_requests_total{job="api",code=~"5.."}',
            (),
            'sum(rate(http_requests_total{job="api",code=~"5.."}[5m]))',
        ),
        ("http_requests_total", ("route",), "sum by (route) (rate(http_requests_total[5m]))"),
        (
            "sum by (job) (http_requests_total)",
            ("route",),
            "sum by (job) (rate(http_requests_total[5m]))",
        ),
        ("sum(rate(x_total[1m]))", (), "sum(rate(x_total[5m]))"),
        ("max_over_time((a)[10m:1m])", (), "sum(max_over_time((a)[5m:1m]))"),
        ("a + b offset 1h", (), "sum(rate(a[5m]) + rate(b[5m] offset 1h))"),
        ('a{b="x\\"y" or c="}"}', (), 'sum(rate(a{b="x\\"y" or c="}"}[5m]))'),
        ("a # total\n", (), "sum(rate(a[5m]) # total\n)"),
    ],
)
def test_windowed(query: str, group_by: tuple[str, ...], expected: str) -> None:
    assert windowed(query, "5m", group_by) == expected
    assert parse_error(expected) is None


def test_window_query_picks_template_or_counter() -> None:
    template = "sum(rate(x[{{.window}}])) / sum(rate(y[{{ .window }}]))"
    assert has_placeholder(template)
    assert window_query(template, "1h", ("a",)) == "sum(rate(x[1h])) / sum(rate(y[1h]))"
    assert render_template(template, "1h") == window_query(template, "1h")
    assert window_query("x", "1h") == "sum(rate(x[1h]))"


def test_parse_error_and_selectors() -> None:
    assert parse_error("sum((") is not None
    assert parse_error("") == "empty query"
    assert parse_error("rate(x[{{.window}}])") is None
    with pytest.raises(PromQLError):
        windowed("sum((", "5m")
    found = selectors('sum(rate(a{b="x\\"y",c=~"1"}[{{.window}}])) / {__name__="d",e!="f"}')
    assert found == [("a", [("b", "=", 'x"y'), ("c", "=~", "1")]), ("d", [("e", "!=", "f")])]


metric = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True).filter(
    lambda m: (
        m.lower()
        not in {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset", "inf"}
        and m.lower() not in {"nan", "atan2", "group_left", "group_right", "start", "end"}
    )
)
label_value = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8
)
matcher = st.tuples(
    st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
    st.sampled_from(["=", "!=", "=~", "!~"]),
    label_value,
)


def _render(name: str, matchers: list[tuple[str, str, str]]) -> str:
    inner = ",".join(f"{k}{op}{_quote(v)}" for k, op, v in matchers)
    return f"{name}{{{inner}}}" if matchers else name


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


selector_text = st.builds(_render, metric, st.lists(matcher, max_size=3))


@st.composite
def counter_expressions(draw: st.DrawFn) -> str:
    parts = draw(st.lists(selector_text, min_size=1, max_size=3))
    op = draw(st.sampled_from([" + ", " - ", " or ", " / "]))
    expr = op.join(parts)
    wrap = draw(st.sampled_from(["{}", "sum({})", "sum by (job) ({})", "({}) offset 5m"]))
    return wrap.format(expr) if "offset" not in wrap else expr + " offset 5m"


@settings(max_examples=200, deadline=None)
@given(
    counter_expressions(),
    st.sampled_from(["5m", "30m", "1h", "6h", "3d"]),
    st.lists(st.sampled_from(["job", "route", "instance"]), unique=True, max_size=2),
)
def test_windowed_output_always_parses(query: str, window: str, group_by: list[str]) -> None:
    if parse_error(query) is not None:
        return  # the generator can make invalid regexes; windowed() must then raise PromQLError
    out = windowed(query, window, group_by)
    assert parse_error(out) is None, out
    assert f"[{window}]" in out
    top = promql_parser.parse(out)
    while isinstance(top, promql_parser.ParenExpr):
        top = top.expr
    assert isinstance(top, promql_parser.AggregateExpr)
    assert [s[0] for s in selectors(out)] == [s[0] for s in selectors(query)]


# -- validate -------------------------------------------------------------------------


def test_valid_catalog_has_no_problems() -> None:
    assert messages(slo(), slo("lat", sli=LatencySLI(metric="h", threshold=0.3))) == []


def test_duplicate_ids_across_files() -> None:
    found = messages(slo(file="a.py"), slo(file="b.yaml", fmt="sloth", sli=_sloth_sli()))
    assert len(found) == 2
    assert "a.py:3: api-avail: field 'name'" in found[0] and "b.yaml:3" in found[0]


def _sloth_sli() -> EventsSLI:
    return EventsSLI(errors="sum(rate(e[{{.window}}]))", total="sum(rate(t[{{.window}}]))")


def test_bad_promql_and_placeholders() -> None:
    bad = slo(sli=EventsSLI(errors="sum((", total="t"))
    assert "field 'sli.errors': invalid PromQL" in messages(bad)[0]
    sloth = slo(fmt="sloth", sli=EventsSLI(errors="sum(rate(e[5m]))", total="t[{{.window}}]"))
    (found,) = messages(sloth)
    assert "sli.errors" in found and "{{.window}}" in found
    raw = slo(sli=RawSLI(error_ratio="1 - avg(up)"))
    assert "{{.window}}" in messages(raw)[0]
    avail = slo(sli=AvailabilitySLI(gauge="probe_success{"))
    assert "sli.gauge" in messages(avail)[0]


def test_error_query_identical_to_total() -> None:
    same = slo(sli=EventsSLI(errors="http_requests_total", total=" http_requests_total"))
    assert "same as the total query" in messages(same)[0]


def test_latency_checks() -> None:
    lat = slo(sli=LatencySLI(metric="h_bucket", threshold="fast", selector='le="1"'))
    text = "\n".join(messages(lat))
    assert "without '_bucket'" in text and "not a number" in text and "'le'" in text


def test_explicit_unreachable_windows_are_errors_derived_are_warnings() -> None:
    windows = (AlertWindow(long="1h", short="5m", factor=2000),)
    explicit = slo(alerting=Alerting(page=AlertTier(windows=windows)))
    assert "can never be reached" in messages(explicit)[0]
    low = slo(objective=90)
    assert messages(low) == []
    warned = warnings_for(Catalog.of([low]))
    assert warned and "can never fire" in warned[0].message
    too_long = slo(
        alerting=Alerting(
            ticket=AlertTier(windows=(AlertWindow(long="40d", short="1d", factor=1),))
        )
    )
    assert "exceeds the SLO window" in messages(too_long)[0]


@pytest.mark.parametrize("fmt", ["python", "sloplane"])
def test_severity_alert_label_is_kept_without_a_warning(fmt: str) -> None:
    # Issue 14 reverses the old "replaced with a warning": the author's severity is kept and
    # sloplane's tier travels in sloplane_severity (see test_rules / test_inputs_sloth).
    labelled = slo(
        fmt=fmt,
        alerting=Alerting(labels={"severity": "critical"}, page=AlertTier(labels={"tier": "1"})),
    )
    assert messages(labelled) == []
    assert warnings_for(Catalog.of([labelled])) == []
