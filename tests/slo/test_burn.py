"""Burn-rate windows: the workbook table for 30 days, the same budget shares for every window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.slo.burn import WORKBOOK_TABLE, burn_rate_windows
from sloplane.slo.durations import DurationError, format_duration, parse_duration


def test_thirty_days_is_the_workbook_table() -> None:
    got = [(w.severity, w.long, w.short, w.factor) for w in burn_rate_windows(30 * 86400)]
    assert got == [
        ("page", 3600, 300, 14.4),
        ("page", 21600, 1800, 6.0),
        ("ticket", 86400, 7200, 3.0),
        ("ticket", 259200, 21600, 1.0),
    ]


@given(st.integers(min_value=60, max_value=90 * 24 * 60).map(lambda m: m * 60))
def test_every_window_keeps_the_budget_shares(window: int) -> None:
    for w, (severity, _long, _short, share) in zip(
        burn_rate_windows(window), WORKBOOK_TABLE, strict=True
    ):
        assert w.severity == severity
        assert w.budget_share == share
        assert 0 < w.short <= w.long < window
        # factor x long window = share x SLO window (up to the factor's 6-digit rounding)
        assert w.factor * w.long == pytest.approx(share * window, rel=1e-5)


@given(st.integers(min_value=1, max_value=10**7))
def test_durations_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["", "30", "5 m", "1y", "-5m", "1.5h", "m5"])
def test_bad_durations_are_rejected(bad: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(bad)


@given(st.integers(min_value=60, max_value=90 * 24 * 60).map(lambda m: m * 60))
def test_derived_windows_never_go_below_five_minutes(window: int) -> None:
    assert all(w.short >= 300 and w.long >= w.short for w in burn_rate_windows(window))
