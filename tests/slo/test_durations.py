"""The one duration parser: whole seconds for SLO windows, fractions for service timings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sloplane.slo.durations import DurationError, format_duration, parse_duration, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 2_592_000), ("1h30m", 5400), ("2w", 1_209_600), (" 5m ", 300)],
)
def test_whole_seconds(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1.5h", "250ms", "5x", "m5", "5m junk"])
def test_windows_refuse_fractions_and_garbage(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("250ms", 0.25), ("1.5s", 1.5), ("1h30m", 5400.0), (7, 7.0), (0.5, 0.5), ("1w", 604800.0)],
)
def test_service_seconds(value: object, seconds: float) -> None:
    assert parse_seconds(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["soon", "", "5 m", True])
def test_service_seconds_refuse_garbage(value: object) -> None:
    with pytest.raises(DurationError, match="not a duration"):
        parse_seconds(value)


@given(st.integers(min_value=1, max_value=10**9))
def test_format_round_trips_through_both_faces(seconds: int) -> None:
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert parse_seconds(text) == seconds
