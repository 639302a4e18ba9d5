"""Which number a status shows when the recorded history is short (issue 13), as a property.

A stand-in reader answers the status query with a recorded ratio for every window and a
coverage for the composed ones, and the source query with a ratio or nothing. Whatever
the values: a covered window shows the recorded number; a window covered under 99% shows
the source's number over the whole window, or, without one, the SLO is
``insufficient_data``: never ``breached`` because of history the rules have not seen.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.api.backend import SharedPrometheus
from sloplane.api.service import SLOService
from sloplane.clients.prometheus import Sample
from sloplane.slo import naming, queries
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration, parse_duration
from sloplane.slo.model import SLO, EventsSLI

SLO_ = SLO(
    service="shop",
    name="availability",
    objective=99,
    sli=EventsSLI(errors='req_total{code="500"}', total="req_total"),
)
WINDOWS = naming.recorded_windows(SLO_)
WINDOW_IN_QUERY = re.compile(rf'"{queries.WINDOW_LABEL}", "([^"]+)"')


@dataclass
class Reader:
    recorded: float
    coverage: float
    source: float | None

    async def instant(self, query: str, at: float | None = None) -> list[Sample]:
        t = at or 0.0
        windows = WINDOW_IN_QUERY.findall(query)
        if "slo:sli_error:ratio_rate" in query:  # the status query: recorded + coverage
            out = [Sample({queries.WINDOW_LABEL: w}, self.recorded, t) for w in windows]
            out += [
                Sample({queries.COVERAGE_LABEL: format_duration(w)}, self.coverage, t)
                for w in queries.coverage_windows(SLO_, WINDOWS)
            ]
            return out
        if self.source is None:
            return []
        return [Sample({queries.WINDOW_LABEL: w}, self.source, t) for w in windows]

    async def aclose(self) -> None:
        return None


ratios = st.floats(0, 1)


@settings(max_examples=150, deadline=None)
@given(recorded=ratios, coverage=st.floats(0, 1), source=st.none() | ratios)
def test_short_history_never_breaches(
    recorded: float, coverage: float, source: float | None
) -> None:
    client = SharedPrometheus(
        "http://stand-in", cache_ttl=0, _reader=Reader(recorded, coverage, source)
    )  # type: ignore[arg-type]
    status = asyncio.run(SLOService(Catalog.of([SLO_]), client).status(SLO_, at=1.0e9))
    window = next(w for w in status.windows if w.window == format_duration(SLO_.window))
    assert window.coverage_ratio == coverage
    if coverage >= queries.COMPLETE_COVERAGE:
        assert status.source == "recording_rules" and status.error_ratio == recorded
    elif source is not None:
        assert status.source == window.source == "source_query"
        assert status.error_ratio == source
    else:
        assert status.status == "insufficient_data" and status.error_ratio is None
    short = [w for w in status.windows if not naming.composed(parse_duration(w.window))]
    assert all(w.source == "recording_rules" for w in short)  # complete from the start
