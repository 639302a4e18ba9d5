"""The contextual novelty detector: causal, bounded, deterministic, and it sees new patterns."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.detectors import make_detector
from sloplane.detectors.context import ContextDetector, ContextNovelty


def _pattern(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A repeating daily-ish shape with a little noise: familiar sequences."""
    rng = np.random.default_rng(seed)
    t = 1_700_000_000 + 300.0 * np.arange(n)
    x = 10 + 3 * np.sin(np.arange(n) * 2 * np.pi / 48) + rng.normal(0, 0.05, n)
    return t, x


def test_level_shift_scores_high_once_then_rests() -> None:
    t, x = _pattern(1500)
    x[1200:] += 1.5  # inside the range seen so far, but off the usual sequence
    det = ContextDetector(rest=100)
    s = det.score_many(t, x)
    assert s[1200:1230].max() >= 0.75 > s[600:1200].max()
    first = 1200 + int(np.argmax(s[1200:] >= 0.75))
    assert (s[first + 1 : first + 101] == 0).all()  # the rest period


@settings(max_examples=15, deadline=None)
@given(st.integers(50, 400), st.floats(-20, 20))
def test_causal(cut: int, new: float) -> None:
    """Changing rows from ``cut`` on never changes the scores before it."""
    t, x = _pattern(450, seed=1)
    y = x.copy()
    y[cut:] = new
    a = make_detector("context").score_many(t, x)
    b = make_detector("context").score_many(t, y)
    assert np.array_equal(a[:cut], b[:cut])


def test_memory_is_bounded_by_the_alphabet() -> None:
    rng = np.random.default_rng(2)
    comp = ContextNovelty(levels=4, order=3)
    for i, v in enumerate(rng.normal(0, 1, 20_000)):
        comp.surprise(float(i), float(v))
    assert len(comp.counts) <= sum(4**k for k in range(1, 5))
    assert len(comp.recent) <= 3


def test_deterministic_and_nan_safe() -> None:
    t, x = _pattern(600, seed=3)
    x[100:110] = np.nan
    a = ContextDetector().score_many(t, x)
    b = ContextDetector().score_many(t, x)
    assert np.array_equal(a, b)
    assert (a[100:110] == 0).all() and ((a >= 0) & (a <= 1)).all()
