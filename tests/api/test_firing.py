"""Issue 17: alert firing intervals from ``ALERTS`` range answers (sloplane/api/firing.py).

The property tests build an answer on the grid the API asks for, from arbitrary firing
grid times per alert spread over several series (groups), and check that the intervals
give back exactly those times, as ``[start, end)`` runs within the range.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.api.firing import MIN_STEP, grid_start, intervals, step_for
from sloplane.clients.prometheus import MAX_POINTS, Series, range_calls
from tests.api.conftest import api

ALERTS = [("SloBurn", "page"), ("SloBurn", "ticket"), ("SloNoData", "ticket")]


@settings(max_examples=300, deadline=None)
@given(
    start=st.floats(0, 2e9, allow_nan=False),
    span=st.floats(0, 400 * 86400, allow_nan=False),
)
def test_the_step_keeps_the_range_in_one_request(start: float, span: float) -> None:
    end = start + span
    step = step_for(start, end)
    assert step >= MIN_STEP and step == int(step)
    first = grid_start(start, end, step)
    assert start - 1e-6 <= first <= end and first < start + step
    assert len(range_calls("ALERTS", first, end, step)) == 1
    # and no whole-second step smaller would do
    if step > MIN_STEP:
        assert span / (step - 1) > MAX_POINTS - 1


def test_thirty_days_is_a_236_second_step() -> None:
    assert step_for(0, 30 * 86400) == 236.0


@st.composite
def answers(draw: st.DrawFn) -> tuple[list[Series], dict[tuple[str, str], set[int]], int, float]:
    """(series, firing grid indexes per alert, grid points, step)."""
    n = draw(st.integers(1, 60))
    step = float(draw(st.integers(1, 600)))
    firing = {
        key: set(draw(st.lists(st.integers(0, n - 1), max_size=n)))
        for key in draw(st.lists(st.sampled_from(ALERTS), unique=True, max_size=3))
    }
    series: list[Series] = []
    for (name, severity), indexes in firing.items():
        groups = draw(st.integers(1, 3))
        split: list[list[int]] = [[] for _ in range(groups)]
        for i in sorted(indexes):
            # every firing time is in at least one group's series, maybe in several
            for g in draw(st.lists(st.integers(0, groups - 1), min_size=1, unique=True)):
                split[g].append(i)
        for g, idx in enumerate(split):
            labels = {"alertname": name, "severity": severity, "job": f"j{g}"}
            series.append(Series(labels, [(float(i), 1.0) for i in idx]))
    return series, firing, n, step


@settings(max_examples=300, deadline=None)
@given(answer=answers(), end=st.integers(0, 2_000_000_000))
def test_intervals_give_back_exactly_the_firing_grid_times(
    answer: tuple[list[Series], dict[tuple[str, str], set[int]], int, float], end: int
) -> None:
    raw, firing, n, step = answer
    start = end - (n - 1) * step - step / 2  # the range starts between two grid times
    grid = [end - (n - 1 - i) * step for i in range(n)]
    series = [Series(s.labels, [(grid[int(i)], v) for i, v in s.points]) for s in raw]
    found = intervals(series, start, end, step)
    assert found == sorted(found, key=lambda i: (i.start, i.severity, i.alertname))
    for key, indexes in firing.items():
        mine = [i for i in found if (i.alertname, i.severity) == key]
        # back to grid times: those in [start, end), plus the end itself when ongoing
        covered = {
            k
            for i in mine
            for k, t in enumerate(grid)
            if i.start <= t < i.end or (i.ongoing and t == end)
        }
        assert covered == indexes
        for a, b in itertools.pairwise(mine):
            assert a.end < b.start  # runs never touch: a gap of one grid time at least
        for i in mine:
            assert start <= i.start <= i.end <= end
            assert i.ongoing == (i.end == end and (n - 1) in indexes)
            assert i.ongoing or i.end - i.start >= step - 1e-6
            assert math.isclose(i.duration_seconds, i.end - i.start)
    assert {(i.alertname, i.severity) for i in found} == {k for k, v in firing.items() if v}


def test_an_alert_that_fired_for_a_while_and_one_still_firing() -> None:
    step, end = 60.0, 6000.0
    page = Series({"alertname": "Burn", "severity": "page"}, [(t, 1.0) for t in (600, 660, 720)])
    ticket = Series({"alertname": "Burn", "severity": "ticket"}, [(5940, 1.0), (6000, 1.0)])
    found = intervals([page, ticket], 0.0, end, step)
    assert [(i.severity, i.start, i.end, i.ongoing) for i in found] == [
        ("page", 600, 780, False),
        ("ticket", 5940, 6000, True),
    ]
    assert found[0].start_rfc3339 == "1970-01-01T00:10:00Z"


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        step_for(10, 5)


def test_the_alerts_route_refuses_bad_ranges_by_name(tmp_path: Path) -> None:
    """Checked before Prometheus is asked (none listens here): a clear 422 naming the field."""
    with api("http://127.0.0.1:9", tmp_path / "db", open_reads=True) as c:
        path = "/api/v1/slos/checkout-availability/alerts"
        backwards = c.get(path, params={"start": "2026-11-10T00:00:00Z", "end": "2026-11-09"})
        assert backwards.status_code == 422 and "end must be after start" in backwards.text
        too_long = c.get(path, params={"start": "2020-01-01T00:00:00Z", "end": "2026-01-01"})
        assert too_long.status_code == 422 and "range longer than" in too_long.text
        assert c.get("/api/v1/slos/nope/alerts").status_code == 404
        # a good range needs Prometheus: the backend's 503, naming it
        down = c.get(path)
        assert down.status_code == 503 and "127.0.0.1:9" in down.text
