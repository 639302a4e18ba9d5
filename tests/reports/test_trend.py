"""The week-over-week trend has a dead band: weeks that differ by noise read "same"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sloplane.reports.collect import SHOWN_RESOLUTION, trend, trend_band
from sloplane.reports.render import TREND_ARROW
from sloplane.slo.model import SLO, EventsSLI


def slo(objective: float) -> SLO:
    return SLO(service="s", name="n", objective=objective, sli=EventsSLI(errors="e", total="t"))


def test_the_issues_two_weeks_read_same() -> None:
    band = trend_band(slo(99.7))
    assert trend(0.9970001, 0.9969989, band) == "same"
    assert TREND_ARROW[trend(0.9970001, 0.9969989, band)] == "= same"
    assert trend(0.9971, 0.9969989, band) == "better"
    assert trend(0.9969, 0.9970001, band) == "worse"


def test_the_band_is_a_hundredth_of_the_budget_at_most_what_the_report_shows() -> None:
    assert trend_band(slo(99.7)) == SHOWN_RESOLUTION
    assert trend_band(slo(99.999)) == 0.01 * slo(99.999).error_budget
    assert trend(None, 0.99, 1e-5) == trend(0.99, None, 1e-5) == "unknown"


SLIS = st.floats(min_value=0.0, max_value=1.0)


@given(a=SLIS, b=SLIS, band=st.floats(min_value=0.0, max_value=0.01))
def test_trend_is_antisymmetric_and_same_inside_the_band(a: float, b: float, band: float) -> None:
    forward, backward = trend(a, b, band), trend(b, a, band)
    assert {forward, backward} in ({"same"}, {"better", "worse"})
    if abs(a - b) < band or a == b:
        assert forward == "same"
    else:
        assert forward == ("better" if a > b else "worse")
