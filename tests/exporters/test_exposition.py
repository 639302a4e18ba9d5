"""Our two text formats against prometheus_client's, on families of every shape we build."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from sloplane.exporters.exposition import (
    Metric,
    choose_renderer,
    process_metrics,
    render_openmetrics,
    render_text,
)


class _Collected:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


_label_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True),
    st.integers(-(2**60), 2**60).map(float),
)


@st.composite
def _families(draw) -> list[Metric]:
    out = []
    for i, typ in enumerate(
        draw(st.lists(st.sampled_from(["gauge", "counter", "info", "unknown"]), max_size=4))
    ):
        name = f"fam_{i}"
        metric = Metric(name, draw(st.text(max_size=20)), typ)
        sample = name + {"counter": "_total", "info": "_info"}.get(typ, "")
        for labels in draw(
            st.lists(
                st.dictionaries(st.sampled_from(["a", "b", "target"]), _label_values),
                max_size=3,
                unique_by=lambda d: tuple(sorted(d.items())),
            )
        ):
            value = 1.0 if typ == "info" else draw(_values)
            if typ == "counter":
                value = abs(value)
            metric.add_sample(sample, labels, value)
        out.append(metric)
    return out


@given(_families())
def test_text_format_is_what_prometheus_client_writes(metrics: list[Metric]) -> None:
    assert render_text(metrics) == generate_latest(_Collected(metrics))  # type: ignore[arg-type]
    list(parse_text(render_text(metrics).decode()))


@given(_families())
def test_openmetrics_parses_like_prometheus_clients(metrics: list[Metric]) -> None:
    ours = list(parse_om(render_openmetrics(metrics).decode()))
    theirs = list(parse_om(openmetrics_latest(_Collected(metrics)).decode()))  # type: ignore[arg-type]
    assert ours == theirs


def test_process_families_render_in_both_formats() -> None:
    names = {m.name for m in parse_text(render_text(process_metrics()).decode())}
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= names
    assert render_openmetrics(process_metrics()).endswith(b"# EOF\n")


def test_negotiation() -> None:
    assert choose_renderer("")[0] is render_text
    prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"
    render, content_type = choose_renderer(prometheus)
    assert render is render_openmetrics and content_type.startswith("application/openmetrics-text")
