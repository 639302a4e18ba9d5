"""Watch rules: direction, floor, bounds, a held alert while a shift lasts, a false-alarm budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.detectors.calibration import TailEstimate, parse_false_alarms
from sloplane.detectors.detectors import DetectorError
from sloplane.detectors.watch import WatchDetector, make_watch

STEP = 60.0


def _t(n: int) -> np.ndarray:
    return 1_700_000_000 + STEP * np.arange(n)


def _episodes(scores: np.ndarray, at: float, gap: int = 10) -> list[tuple[int, int]]:
    """(first, last) index of each run of scores >= at (runs closer than ``gap`` merge)."""
    runs: list[tuple[int, int]] = []
    for i in np.flatnonzero(scores >= at).tolist():
        if runs and i - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _error_rate_with_past_incidents(seed: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """5xx per second around 0.5, three past 14x incidents of 30 min in the lookback,
    then a fourth that lasts an hour (the issue's case)."""
    rng = np.random.default_rng(seed)
    n = 4 * 1440
    x = np.abs(0.5 + rng.normal(0, 0.08, n))
    for start in (1500, 2600, 3700):
        x[start : start + 30] *= 14
    at, end = 5000, 5060
    x[at:end] *= 14
    return _t(n), x, at, end


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_sustained_harmful_shift_alerts_while_it_lasts_and_the_recovery_does_not(
    seed: int,
) -> None:
    t, x, at, end = _error_rate_with_past_incidents(seed)
    w = make_watch("ensemble", direction="up", lower_bound=0.0)
    s = w.score_many(t, x)
    runs = [r for r in _episodes(s, w.alert_at) if r[1] >= at - 10]
    assert len(runs) == 1, runs  # one episode, no second one for the recovery
    first, last = runs[0]
    assert at <= first < at + 10  # caught within 10 minutes
    assert (s[first:end] >= w.alert_at).all()  # firing for as long as it lasts
    assert last < end + 10  # and over within minutes once the rate is back


def test_the_latency_case_2_5x_p99_with_similar_shifts_before() -> None:
    rng = np.random.default_rng(5)
    n = 4 * 1440
    x = 0.3 * np.exp(rng.normal(0, 0.1, n))
    for start in (1500, 2600, 3700):
        x[start : start + 40] *= 2.5
    x[5000:5090] *= 2.5
    w = make_watch("ensemble", direction="up", lower_bound=0.0)
    s = w.score_many(_t(n), x)
    first = int(np.flatnonzero(s[5000:] >= w.alert_at)[0])
    assert first < 10
    assert (s[5000 + first : 5090] >= w.alert_at).all()
    assert not (s[5100:] >= w.alert_at).any()  # over within minutes, no new alert


@pytest.mark.parametrize(("direction", "sign"), [("up", -1.0), ("down", 1.0)])
def test_a_move_to_the_harmless_side_and_back_never_alerts(direction: str, sign: float) -> None:
    rng = np.random.default_rng(3)
    n = 3 * 1440
    x = 10 + rng.normal(0, 0.5, n)
    x[2000:2300] += sign * 3.0  # a harmless excursion of 6 sigma, then back to normal
    w = make_watch("ensemble", direction=direction)
    s = w.score_many(_t(n), x)
    assert not (s[2000:] >= w.alert_at).any()
    both = make_watch("ensemble").score_many(_t(n), x)
    assert (both[2000:2010] >= 0.5).any()  # without a direction, the same move alerts


def test_a_practical_floor_silences_tiny_wiggles_on_a_flat_series() -> None:
    n = 2 * 1440
    x = np.full(n, 100.0)
    x[2000:2020] += 0.01  # 0.01% of the level: improbable on a flat line, not worth a page
    loud = make_watch("ewma").score_many(_t(n), x)
    assert (loud[2000:2020] >= 0.5).any()
    quiet = make_watch("ewma", min_relative_change=0.01).score_many(_t(n), x)
    assert not (quiet >= 0.5).any()
    quiet_abs = make_watch("ewma", min_change=1.0).score_many(_t(n), x)
    assert not (quiet_abs >= 0.5).any()


def test_value_bounds_keep_the_expected_range_possible() -> None:
    rng = np.random.default_rng(4)
    x = np.abs(rng.normal(0.05, 0.1, 2000))  # a small rate: the symmetric band goes below 0
    free = make_watch("ewma")
    free.score_many(_t(len(x)), x)
    bounded = make_watch("ewma", lower_bound=0.0, upper_bound=1.0)
    bounded.score_many(_t(len(x)), x)
    assert free.expected_range is not None and free.expected_range[0] < 0
    assert bounded.expected_range is not None
    lo, hi = bounded.expected_range
    assert 0.0 <= lo <= hi <= 1.0


def test_a_budget_of_one_a_week_is_silent_on_a_healthy_day_and_catches_a_4_sigma_shift() -> None:
    rng = np.random.default_rng(11)
    n = 2 * 1440
    x = 10 + 2 * np.sin(2 * np.pi * _t(n) / 86400) + rng.normal(0, 0.5, n)
    w = make_watch("ensemble", false_alarms="1/week")
    assert not (w.score_many(_t(n), x) >= w.alert_at).any()
    y = x.copy()
    y[2000:] += 4 * 0.5
    w = make_watch("ensemble", false_alarms="1/week")
    w.score_many(_t(n)[:2000], y[:2000])
    fired = [i for i in range(2000, 2010) if w.update(_t(n)[i], y[i]) >= w.alert_at]
    assert fired
    # At the alert: rarer than the budget allows (a week is 10,080 points; the
    # budget is split between two opinions and aimed at with a margin).
    assert w.one_in > 10_080
    text = w.describe(float(y[fired[0]]))
    assert "unusual" in text and "1 in" in text


def test_describe_says_the_side_and_the_range() -> None:
    rng = np.random.default_rng(12)
    x = 10 + rng.normal(0, 0.5, 3000)
    x[2500:] += 3
    w = make_watch("ensemble", direction="up")
    s = w.score_many(_t(len(x)), x)
    assert (s[2500:2510] >= w.alert_at).any()
    text = w.describe(float(x[-1]))
    assert text.startswith("value ") and "too high" in text and "expected " in text
    assert text.endswith(".")


def test_the_raw_threshold_stays_for_experts() -> None:
    w = make_watch("ewma", threshold=0.9)
    assert w.alert_at == 0.9 and not w.options.budget_mode


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"false_alarms": "1/fortnight"}, "false_alarms"),
        ({"false_alarms": "-1/week"}, "false_alarms"),
        ({"lower_bound": 1.0, "upper_bound": 0.0}, "watch"),
        ({"min_change": -1}, "min_change"),
        ({"threshold": 1.5}, "threshold"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_field(
    options: dict[str, object], field: str
) -> None:
    with pytest.raises(DetectorError) as err:
        make_watch("ewma", **options)
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_budgets_parse() -> None:
    assert parse_false_alarms("1/week") == pytest.approx(1 / 604800)
    assert parse_false_alarms("2/day") == pytest.approx(2 / 86400)
    assert parse_false_alarms(3) == pytest.approx(3 / 604800)
    with pytest.raises(ValueError):
        parse_false_alarms("often")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=300, max_size=600), st.floats(0, 1), st.floats(0, 1))
def test_the_tail_estimate_is_a_decreasing_share(values: list[float], a: float, b: float) -> None:
    tail = TailEstimate(min_points=100, refresh=10)
    for v in values:
        tail.learn(v)
    lo, hi = min(a, b), max(a, b)
    assert 0 < tail.exceedance(hi) <= tail.exceedance(lo) <= 1
    assert tail.mass.shape == (200,)  # bounded memory, whatever the length


def test_the_tail_estimate_matches_a_known_distribution() -> None:
    rng = np.random.default_rng(0)
    tail = TailEstimate(0.0, 10.0, min_points=100)
    for v in rng.exponential(1.0, 20_000):
        tail.learn(float(v))
    for s in (1.0, 3.0, 6.0):  # the exponential's tail is exp(-s)
        assert tail.exceedance(s) == pytest.approx(np.exp(-s), rel=0.35)


def test_a_watch_is_a_detector() -> None:
    w = make_watch("ewma")
    assert isinstance(w, WatchDetector)
    assert w.warming_up and w.update(0.0, float("nan")) == 0.0


def test_a_harmful_level_that_outlasts_max_hold_becomes_the_new_normal() -> None:
    rng = np.random.default_rng(8)
    n = 3 * 1440
    x = 10 + rng.normal(0, 0.5, n)
    x[2000:] += 4.0  # a lasting change, e.g. a new release that is simply slower
    w = make_watch("ensemble", direction="up", max_hold=3600)
    s = w.score_many(_t(n), x)
    runs = _episodes(s, w.alert_at)
    assert runs and runs[0][0] < 2010
    assert runs[0][1] <= 2000 + 60 + 5  # held one hour, then accepted
    assert all(first < 2100 for first, _ in runs)  # and not raised again every hour


def test_warmup_left_counts_down_to_zero_and_history_primes_it() -> None:
    from sloplane.detectors.watch import WARMUP_POINTS

    rng = np.random.default_rng(9)
    x = 10 + rng.normal(0, 0.5, WARMUP_POINTS + 50)
    w = make_watch("ewma")
    assert w.warmup_left == WARMUP_POINTS - 1
    lefts = []
    for a, b in zip(_t(len(x)), x, strict=True):
        lefts.append(w.warmup_left)
        w.update(a, b)
    assert lefts == sorted(lefts, reverse=True)
    assert w.warmup_left == 0 and not w.warming_up
    primed = make_watch("ewma")
    primed.score_many(_t(len(x)), x)  # one query_range of history
    assert primed.warmup_left == 0 and not primed.warming_up


def _replicas(n: int, steps: dict[int, float]) -> np.ndarray:
    """A flat line (a replica count) with steps at the given points."""
    x = np.full(n, 3.0)
    for at, by in steps.items():
        x[at:] += by
    return x


def test_a_flat_line_learns_its_healthy_steps_and_still_alerts_on_a_shift() -> None:
    """Issue 16: a replica count that stepped by 1 in its history may step by 1 again
    without paging; a jump of 4 still alerts at once."""
    n = 6000
    steps = {500: 1.0, 2500: -1.0, 3500: 1.0}
    healthy = make_watch().score_many(_t(n), _replicas(n, steps))
    assert _episodes(healthy, 0.5) == []
    shifted = make_watch().score_many(_t(n), _replicas(n, {**steps, 5000: 4.0}))
    assert (shifted[5000:5003] >= 0.5).any()
    # without the learnt floor every step after the warm-up alerts, as before
    unfloored = make_watch(learn_steps=False).score_many(_t(n), _replicas(n, steps))
    assert len(_episodes(unfloored, 0.5)) == 2


def test_a_noisy_series_learns_no_floor_from_its_changes() -> None:
    rng = np.random.default_rng(7)
    w = make_watch()
    w.score_many(_t(3000), 10 + rng.normal(0, 0.5, 3000))
    assert w.flat_share < 0.1 and w.learnt_floor == 0.0
