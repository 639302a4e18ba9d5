"""Hypothesis strategies for valid SLOs."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from sloplane.slo.model import SLO, AvailabilitySLI, EventsSLI, LatencySLI, RawSLI

names = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
label_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not n.startswith(("sloplane", "sloth")) and n not in {"le", "severity", "job", "code"}
)
objectives = st.one_of(
    st.sampled_from([90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99]),
    st.floats(min_value=0.9, max_value=0.99999),
)
# Objectives the model refuses: booleans (pydantic alone would read them as 1.0 and 0.0),
# numbers outside both ranges (a ratio 0 < x < 1, a percentage 1 <= x < 100), NaN, and
# numbers that round to 0% or 100% at the model's 12 decimal places.
refused_objectives = st.one_of(
    st.booleans(),
    st.floats(max_value=0),
    st.floats(min_value=100),
    st.just(math.nan),
    st.floats(min_value=0, max_value=4.9e-13, exclude_min=True),
    st.floats(min_value=1 - 4.9e-13, max_value=1, exclude_max=True),
    st.floats(min_value=100 - 4.9e-11, max_value=100, exclude_max=True),
)
windows = st.one_of(
    st.sampled_from(["7d", "14d", "28d", "30d", "90d", "1h", "6h", "1d"]),
    st.integers(min_value=60, max_value=90 * 24 * 60).map(lambda m: m * 60),
)


@st.composite
def slis(draw: st.DrawFn, group_by: tuple[str, ...]) -> object:
    job = draw(names)
    kind = draw(st.sampled_from(["events", "good", "latency", "availability", "raw"]))
    if kind == "events":
        return EventsSLI(
            errors=f'http_requests_total{{job="{job}",code=~"5.."}}',
            total=f'http_requests_total{{job="{job}"}}',
        )
    if kind == "good":
        return EventsSLI(
            good=f'jobs_processed_total{{queue="{job}",result="ok"}}',
            total=f'jobs_processed_total{{queue="{job}"}}',
        )
    if kind == "latency":
        threshold = draw(st.sampled_from(["0.1", "0.25", "0.5", "1"]))
        return LatencySLI(
            metric="http_request_duration_seconds", threshold=threshold, selector=f'job="{job}"'
        )
    if kind == "availability":
        return AvailabilitySLI(gauge=f'probe_success{{job="{job}"}}')
    by = f" by ({', '.join(group_by)})" if group_by else ""
    return RawSLI(
        error_ratio=(
            f'sum{by}(rate(http_requests_total{{job="{job}",code=~"5.."}}[{{{{.window}}}}]))'
            f' / sum{by}(rate(http_requests_total{{job="{job}"}}[{{{{.window}}}}]))'
        )
    )


@st.composite
def slo_objects(draw: st.DrawFn) -> SLO:
    group_by = tuple(draw(st.lists(label_names, max_size=2, unique=True)))
    return SLO(
        service=draw(names),
        name=draw(names),
        objective=draw(objectives),
        window=draw(windows),
        group_by=group_by,
        sli=draw(slis(group_by)),
        team=draw(st.one_of(st.none(), names)),
        labels=draw(
            st.dictionaries(label_names.filter(lambda n: n not in group_by), names, max_size=2)
        ),
    )
