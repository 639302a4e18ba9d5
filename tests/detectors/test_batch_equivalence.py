"""Batch scoring (``score_many``) is the point-by-point ``update`` loop, bit for bit.

Back-tests use the batch path and ``detect serve`` the streaming one; an alert
replayed in a back-test must score exactly as it did live. Series vary in
shape (noise, steps, ramps, flat stretches, gaps) and the batch is cut into
random slices, mixed with single updates, so state handed from one path to
the other is covered too.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sloplane.detectors import DETECTORS, make_detector
from sloplane.detectors.forest import RandomIsolationForest

# Small learning phases and frequent refits so short series reach every code path.
PARAMS: dict[str, dict[str, object]] = {
    "iforest": {"refit_every": 40},
    "ensemble": {"warmup": 20},
    "seasonal": {"learning": 20},
    "ewma": {"learning": 20},
    "holt": {"learning": 20},
}
WITH_FOREST = {
    "warmup": 20,
    "signals": ("seasonal:median10", "ewma:median10", "cusum:1", "iforest:1", "context:3"),
    "component_params": {"iforest": {"refit_every": 60, "min_train": 60, "n_estimators": 20}},
}


@st.composite
def series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[int]]:
    n = draw(st.integers(1, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["noise", "steps", "ramp", "flat", "counts", "heavy"]))
    rng = np.random.default_rng(seed)
    step = draw(st.sampled_from([1.0, 60.0, 3600.0]))
    t = 1_700_000_000 + step * np.arange(n)
    x = {
        "noise": lambda: rng.normal(10, 1, n),
        "steps": lambda: np.repeat(rng.normal(0, 5, n // 20 + 1), 20)[:n] + rng.normal(0, 0.1, n),
        "ramp": lambda: np.arange(n) * 0.5 + rng.normal(0, 1, n),
        "flat": lambda: np.full(n, 3.0),
        "counts": lambda: rng.poisson(2, n).astype(float),
        "heavy": lambda: rng.pareto(1.5, n) * 100,
    }[kind]()
    gaps = draw(st.lists(st.integers(0, n - 1), max_size=5))
    x[gaps] = np.nan
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return t, x, cuts


def _mixed(name: str, params: dict[str, object], t: np.ndarray, x: np.ndarray, cuts: list[int]):
    """Score in slices, every other slice point by point."""
    det = make_detector(name, **params)
    out: list[float] = []
    edges = [0, *cuts, len(x)]
    for k, (a, b) in enumerate(itertools.pairwise(edges)):
        if k % 2:
            out.extend(det.update(t[i], x[i]) for i in range(a, b))
        else:
            out.extend(det.score_many(t[a:b], x[a:b]).tolist())
    return np.asarray(out)


def _streamed(name: str, params: dict[str, object], t: np.ndarray, x: np.ndarray) -> np.ndarray:
    det = make_detector(name, **params)
    return np.asarray([det.update(a, b) for a, b in zip(t, x, strict=True)])


@settings(max_examples=15, deadline=None)
@given(series(), st.sampled_from(sorted(DETECTORS)))
def test_score_many_is_the_update_loop_bit_for_bit(case, name: str) -> None:
    t, x, cuts = case
    params = PARAMS.get(name, {})
    stream = _streamed(name, params, t, x)
    batch = make_detector(name, **params).score_many(t, x)
    assert np.array_equal(batch, stream)
    assert np.array_equal(_mixed(name, params, t, x, cuts), stream)


@settings(max_examples=6, deadline=None)
@given(series())
def test_the_ensemble_with_a_forest_is_the_update_loop_bit_for_bit(case) -> None:
    t, x, cuts = case
    stream = _streamed("ensemble", WITH_FOREST, t, x)
    assert np.array_equal(make_detector("ensemble", **WITH_FOREST).score_many(t, x), stream)
    assert np.array_equal(_mixed("ensemble", WITH_FOREST, t, x, cuts), stream)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 600), st.integers(1, 30), st.integers(2, 300), st.integers(0, 2**31))
def test_a_forest_scores_one_point_as_it_scores_many(m: int, trees: int, psi: int, seed: int):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(m, 4)) * rng.choice([0.0, 1.0, 1e6], size=4)
    forest = RandomIsolationForest(data, trees, psi, seed)
    points = np.vstack([data[:50], rng.normal(size=(20, 4)) * 3])
    many = forest.anomaly_scores(points)
    one = np.concatenate([forest.anomaly_scores(points[i : i + 1]) for i in range(len(points))])
    assert np.array_equal(many, one)
    assert ((many > 0) & (many <= 1)).all()


def test_a_forest_isolates_an_outlier_sooner_than_ordinary_points() -> None:
    rng = np.random.default_rng(1)
    forest = RandomIsolationForest(rng.normal(size=(1000, 3)), 100, 256, 0)
    ordinary, outlier = forest.anomaly_scores(np.array([[0.0, 0.0, 0.0], [6.0, -6.0, 6.0]]))
    assert ordinary < 0.5 < outlier
    assert math.isclose(
        forest.norm, 100 * (2 * (math.log(255) + 0.5772156649015329) - 2 * 255 / 256)
    )


WATCHES: list[dict[str, object]] = [
    {"detector": "ewma", "params": {"learning": 20}},
    {"detector": "ensemble", "params": {"warmup": 20}, "direction": "up", "lower_bound": 0.0},
    {"detector": "seasonal", "params": {"learning": 20}, "direction": "down", "min_change": 0.5},
    {"detector": "cusum", "threshold": 0.5, "direction": "up", "min_relative_change": 0.01},
]


@settings(max_examples=10, deadline=None)
@given(series(), st.sampled_from(range(len(WATCHES))))
def test_a_watch_scores_batches_as_it_scores_points(case, which: int) -> None:
    from sloplane.detectors.watch import make_watch

    t, x, cuts = case
    # Four times longer, so the watch's warm-up (100 + 300 points) ends and its
    # budget, holds and grace periods all run; a jump between copies is a shift.
    x = np.concatenate([x, x + 5, x, x - 5])
    t = t[0] + (t[1] - t[0] if len(t) > 1 else 60.0) * np.arange(len(x))
    cuts = [4 * c for c in cuts]
    config = dict(WATCHES[which])

    def build():
        return make_watch(**config)

    det = build()
    stream = np.asarray([det.update(a, b) for a, b in zip(t, x, strict=True)])
    assert np.array_equal(build().score_many(t, x), stream)
    mixed = build()
    out: list[float] = []
    edges = [0, *cuts, len(x)]
    for k, (a, b) in enumerate(itertools.pairwise(edges)):
        if k % 2:
            out.extend(mixed.update(t[i], x[i]) for i in range(a, b))
        else:
            out.extend(mixed.score_many(t[a:b], x[a:b]).tolist())
    assert np.array_equal(np.asarray(out), stream)


@pytest.mark.parametrize("depth", [6, 7, 48])
def test_seasonal_bins_full_and_filling_give_the_same_scores_in_batch(depth: int) -> None:
    """Odd and even bin depths, bins filling up and full, a batch cut mid-bin."""
    rng = np.random.default_rng(depth)
    n = 3 * 1440
    t = 1_700_000_000 + 60.0 * np.arange(n)
    x = 10 + 3 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.5, n)
    x[::97] = np.nan
    params = {"depth": depth, "learning": 50}
    det = make_detector("seasonal", **params)
    stream = np.asarray([det.update(a, b) for a, b in zip(t, x, strict=True)])
    batched = make_detector("seasonal", **params)
    parts = [batched.score_many(t[a:b], x[a:b]) for a, b in ((0, 1000), (1000, 1001), (1001, n))]
    assert np.array_equal(np.concatenate(parts), stream)
    assert np.array_equal(make_detector("seasonal", **params).score_many(t, x), stream)
