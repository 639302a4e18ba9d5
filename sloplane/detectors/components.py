"""Raw surprise signals: each says, as a deviation >= 0, how unusual a point is to one model.

A component is not calibrated: 3.0 from one metric and 3.0 from another mean
different things. :class:`~sloplane.detectors.base.AnomalyLikelihood` turns a
component's surprise stream into a comparable score; the public detectors in
:mod:`sloplane.detectors.detectors` pair the two.
"""

from __future__ import annotations

import abc
import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from sloplane.detectors.forest import PackedForest, RandomIsolationForest

MAX_DEV = 100.0
"""Deviations are capped: past this, "how much more unusual" carries no information."""

NO_OPINION = math.nan
"""What a component answers before it has a model to judge by (still settling,
an empty seasonal bin, no familiar context). Not 0: 0 means "judged, and
ordinary", and a calibrator must not learn "ordinary" from points that were
never judged, nor score the first judged point as unprecedented."""


class Component(abc.ABC):
    """One causal model of a series, answering with a deviation >= 0 (about robust
    sigmas), or :data:`NO_OPINION` while it cannot judge yet."""

    def __init__(self) -> None:
        self.expected: tuple[float, float] | None = None

    @abc.abstractmethod
    def surprise(self, t: float, x: float) -> float:
        """Surprise of ``x`` given everything seen before; then learn ``x``."""

    def surprises(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Batch form; must equal calling :meth:`surprise` point by point."""
        out = np.empty(len(x), dtype=float)
        for i in range(len(x)):
            out[i] = self.surprise(float(t[i]), float(x[i]))
        return out


class Range:
    """All-time minimum and maximum: the scale floor for flat series and the
    reference for spatial novelty. Two floats, so memory stays bounded."""

    def __init__(self) -> None:
        self.lo = math.inf
        self.hi = -math.inf
        self.n = 0

    def push(self, x: float) -> None:
        if x < self.lo:
            self.lo = x
        if x > self.hi:
            self.hi = x
        self.n += 1

    @property
    def width(self) -> float:
        return self.hi - self.lo if self.n else 0.0

    def floor(self, x: float) -> float:
        """Smallest scale worth dividing by: a sliver of the range or of the level."""
        return max(1e-3 * self.width, 1e-6 * abs(x), 1e-9)


class EWMAResidual(Component):
    """Deviation from an exponentially weighted level (optionally with Holt trend),
    scaled by an exponentially weighted mean absolute deviation."""

    def __init__(self, alpha: float = 0.1, beta: float = 0.0, scale_alpha: float = 0.02) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.scale_alpha = scale_alpha
        self.level: float | None = None
        self.trend = 0.0
        self.mad = 0.0
        self.range = Range()
        self.n = 0
        self.settle = 30

    def surprise(self, t: float, x: float) -> float:
        if self.level is None:
            self.level = x
            self.range.push(x)
            return NO_OPINION
        pred = self.level + self.trend
        err = x - pred
        self.n += 1
        if self.n <= self.settle:  # learn the noise level before judging anything
            self.mad += (abs(err) - self.mad) / self.n
        scale = max(1.25 * self.mad, self.range.floor(x))
        self.expected = (pred - 3.0 * scale, pred + 3.0 * scale)
        s = min(abs(err) / scale, MAX_DEV) if self.n > self.settle else NO_OPINION
        if self.n > self.settle:
            # Clipped, so an anomaly cannot widen the band that is judging it.
            self.mad += self.scale_alpha * (min(abs(err), 3.0 * scale) - self.mad)
        new_level = pred + self.alpha * err
        if self.beta:
            self.trend += self.beta * (new_level - self.level - self.trend)
        self.level = new_level
        self.range.push(x)
        return s


class SeasonalMAD(Component):
    """Median and MAD of the values seen at the same time of day (or week).

    Each bin keeps its last ``depth`` values, so the baseline follows slow
    drift while a one-off burst cannot drag the median.
    """

    def __init__(
        self, period: float = 86400.0, bins: int = 24, depth: int = 48, min_count: int = 6
    ) -> None:
        super().__init__()
        self.period = period
        self.bin_width = period / bins
        self.depth = depth
        self.min_count = min_count
        # One ring buffer of ``depth`` values per bin, all in one float array (8 bytes a
        # value; a deque of Python floats took 32). Bin keys run 0..bins (the last only
        # if rounding puts a time right at the period's end).
        self.ring = np.zeros((bins + 1, depth))
        self.fill = [0] * (bins + 1)  # values held per bin
        self.pos = [0] * (bins + 1)  # where the next value goes
        self.global_abs_dev = 0.0
        self.range = Range()

    def history(self, key: int) -> np.ndarray:
        """The values held for bin ``key``, oldest first (a copy)."""
        n, p = self.fill[key], self.pos[key]
        row = self.ring[key]
        if n < self.depth:
            return row[:n].copy()
        return np.concatenate((row[p:], row[:p]))

    def _push(self, key: int, v: float) -> None:
        p = self.pos[key]
        self.ring[key, p] = v
        self.pos[key] = p + 1 if p + 1 < self.depth else 0
        if self.fill[key] < self.depth:
            self.fill[key] += 1

    def _extend(self, key: int, vals: np.ndarray) -> None:
        m = len(vals)
        if m == 0:
            return
        depth = self.depth
        p = self.pos[key]
        if m > depth:  # only the last ``depth`` stay; they land where they would have
            p = (p + m - depth) % depth
            vals = vals[-depth:]
            m = depth
        self.ring[key, (p + np.arange(m)) % depth] = vals
        self.pos[key] = (p + m) % depth
        self.fill[key] = min(self.fill[key] + m, depth)

    def surprise(self, t: float, x: float) -> float:
        key = int((t % self.period) // self.bin_width)
        n = self.fill[key]
        s = NO_OPINION
        if n >= self.min_count:
            ordered = sorted(self.ring[key, :n].tolist())  # order in the ring is irrelevant here
            med = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
            devs = sorted(abs(v - med) for v in ordered)
            mad = devs[n // 2] if n % 2 else 0.5 * (devs[n // 2 - 1] + devs[n // 2])
            # A bin whose recent values are all equal must not make every tiny wiggle infinite.
            scale = max(1.4826 * mad, 0.25 * self.global_abs_dev, self.range.floor(x))
            self.expected = (med - 3.0 * scale, med + 3.0 * scale)
            dev = abs(x - med)
            s = min(dev / scale, MAX_DEV)
            self.global_abs_dev += 0.01 * (dev - self.global_abs_dev)
        self._push(key, x)
        self.range.push(x)
        return s

    def surprises(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Batch form: the medians and MADs of full bins come from NumPy, sorted
        windows and the same arithmetic as :meth:`surprise`, so the scores are
        identical; bins still filling up, and the running scale, go point by point."""
        n = len(x)
        if n == 0:
            return np.empty(0)
        keys = ((np.asarray(t, dtype=float) % self.period) // self.bin_width).astype(np.int64)
        xs = np.asarray(x, dtype=float)
        med = np.full(n, np.nan)
        mad = np.full(n, np.nan)
        for key in np.unique(keys).tolist():
            where = np.flatnonzero(keys == key)
            past = self.history(key)
            seq = np.concatenate((past, xs[where]))
            # Point j of this batch in the bin is judged by seq[start - depth : start].
            starts = len(past) + np.arange(len(where))
            full = starts >= self.depth
            if full.any():
                windows = np.lib.stride_tricks.sliding_window_view(seq[:-1], self.depth)
                win = np.sort(windows[starts[full] - self.depth], axis=1)
                m, d = _median_and_mad(win)
                med[where[full]] = m
                mad[where[full]] = d
            for j in np.flatnonzero(~full).tolist():  # bins still filling up
                held = self.fill[key]
                if held >= self.min_count:
                    m1, d1 = _median_and_mad(np.sort(self.ring[key, :held])[None, :])
                    med[where[j]], mad[where[j]] = m1[0], d1[0]
                self._push(key, float(xs[where[j]]))
            self._extend(key, xs[where[full]])
        out = np.empty(n)
        rng = self.range
        gad = self.global_abs_dev
        for i, (v, m, d) in enumerate(zip(xs.tolist(), med.tolist(), mad.tolist(), strict=True)):
            if m != m:  # NaN: the bin had too few values
                out[i] = NO_OPINION
            else:
                scale = max(1.4826 * d, 0.25 * gad, rng.floor(v))
                self.expected = (m - 3.0 * scale, m + 3.0 * scale)
                dev = abs(v - m)
                out[i] = min(dev / scale, MAX_DEV)
                gad += 0.01 * (dev - gad)
            rng.push(v)
        self.global_abs_dev = gad
        return out


def _median_and_mad(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise median and median absolute deviation of sorted rows, with the
    same operations as :meth:`SeasonalMAD.surprise` (so equal bit for bit)."""
    n = ordered.shape[1]
    h = n // 2
    med = ordered[:, h] if n % 2 else 0.5 * (ordered[:, h - 1] + ordered[:, h])
    devs = np.sort(np.abs(ordered - med[:, None]), axis=1)
    mad = devs[:, h] if n % 2 else 0.5 * (devs[:, h - 1] + devs[:, h])
    return med, mad


class Cusum(Component):
    """Two-sided CUSUM on robustly standardised values: catches level shifts that
    are too small for any single point to look odd."""

    def __init__(self, alpha: float = 0.01, k: float = 0.5, h: float = 8.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.k = k
        self.h = h
        self.mean: float | None = None
        self.mad = 0.0
        self.pos = 0.0
        self.neg = 0.0
        self.range = Range()
        self.n = 0

    def surprise(self, t: float, x: float) -> float:
        self.n += 1
        if self.mean is None:
            self.mean = x
            self.range.push(x)
            return NO_OPINION
        scale = max(1.25 * self.mad, self.range.floor(x))
        z = (x - self.mean) / scale
        z = max(-4.0, min(4.0, z))  # one wild point is a spike, not a shift
        self.pos = max(0.0, self.pos + z - self.k)
        self.neg = max(0.0, self.neg - z - self.k)
        stat = max(self.pos, self.neg)
        s = min(stat / self.h, MAX_DEV)
        if stat > self.h:  # shift accepted: re-centre on the new level
            self.mean = x
            self.pos = self.neg = 0.0
        else:
            self.mean += self.alpha * (x - self.mean)
        rate = max(self.alpha, 1.0 / self.n)  # fast start, then slow
        self.mad += rate * (abs(x - self.mean) - self.mad)
        self.range.push(x)
        return s if self.n > 30 else NO_OPINION


class Spatial(Component):
    """1 when a value leaves the range seen so far by a margin, else 0.

    Numenta's detectors pair a temporal model with this check because a brand
    new extreme is rarely noise, whatever the temporal model believes.
    """

    def __init__(self, tolerance: float = 0.05, warmup: int = 300) -> None:
        super().__init__()
        self.tolerance = tolerance
        self.warmup = warmup
        self.range = Range()

    @property
    def warming_up(self) -> bool:
        return self.range.n < self.warmup

    def surprise(self, t: float, x: float) -> float:
        r = self.range
        s = 0.0
        if r.n >= self.warmup and r.width > 0:
            margin = self.tolerance * r.width
            if x > r.hi + margin or x < r.lo - margin:
                s = 1.0
        r.push(x)
        return s


def point_features(window: Sequence[float]) -> tuple[float, float, float, float]:
    """Features of the last point of ``window`` (value, deviation from the
    window mean, window standard deviation, first difference), computed the same
    way in streaming and batch use so both give identical scores."""
    n = len(window)
    x = window[-1]
    mean = math.fsum(window) / n
    var = math.fsum((v - mean) ** 2 for v in window) / n
    diff = x - window[-2] if n > 1 else 0.0
    return (x, x - mean, math.sqrt(var), diff)


class IsolationForestComponent(Component):
    """An isolation forest over windowed features, refitted periodically on the
    recent past only (so scores stay causal). The forest is
    :class:`~sloplane.detectors.forest.RandomIsolationForest`, grown with NumPy
    in milliseconds (scikit-learn's fit took a quarter of a second, which
    capped the ensemble at a few thousand points per second)."""

    def __init__(
        self,
        width: int = 12,
        history: int = 2000,
        min_train: int = 300,
        refit_every: int = 500,
        n_estimators: int = 50,
        max_samples: int = 256,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.width = width
        self.min_train = min_train
        self.refit_every = refit_every
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.seed = seed
        self.recent: deque[float] = deque(maxlen=width)
        # The training features of the last ``history`` points: a ring of rows in one
        # float array (a deque of tuples took about 150 bytes a point).
        self.train = np.zeros((history, 4))
        self.train_n = 0
        self.train_pos = 0
        self.paths: PackedForest | None = None
        self.n = 0

    def _features(self, x: float) -> tuple[float, float, float, float]:
        self.recent.append(x)
        return point_features(list(self.recent))

    def _maybe_refit(self) -> None:
        if self.n >= self.min_train and (self.n - self.min_train) % self.refit_every == 0:
            # A fresh seed per refit (reproducible from ``seed``), as scikit-learn's
            # random_state gave before: each forest draws its own trees.
            self.paths = RandomIsolationForest(
                self._training_rows(),
                self.n_estimators,
                self.max_samples,
                seed=self.seed * 1_000_003 + self.n,
            )

    def _training_rows(self) -> np.ndarray:
        """The training features, oldest first (the forest draws samples by position)."""
        n, p = self.train_n, self.train_pos
        if n < len(self.train):
            return self.train[:n].copy()
        return np.concatenate((self.train[p:], self.train[:p]))

    def _learn(self, feats: np.ndarray) -> None:
        size = len(self.train)
        m = len(feats)
        p = self.train_pos
        if m > size:  # only the last ``size`` stay, where they would have landed
            p = (p + m - size) % size
            feats = feats[-size:]
            m = size
        self.train[(p + np.arange(m)) % size] = feats
        self.train_pos = (p + m) % size
        self.train_n = min(self.train_n + m, size)

    def _score(self, feats: np.ndarray) -> np.ndarray:
        if self.paths is None:
            return np.full(len(feats), NO_OPINION)
        # The isolation score is about 0.5 for ordinary points.
        s = self.paths.anomaly_scores(feats)
        return np.maximum(10.0 * (s - 0.5), 0.0)

    def surprise(self, t: float, x: float) -> float:
        self._maybe_refit()
        f = self._features(x)
        row = np.asarray([f])
        s = float(self._score(row)[0])
        self._learn(row)
        self.n += 1
        return s

    def surprises(self, t: np.ndarray, x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x), dtype=float)
        i = 0
        while i < len(x):
            self._maybe_refit()
            # Points up to the next refit are scored by the model we have now.
            if self.n < self.min_train:
                step = self.min_train - self.n
            else:
                step = self.refit_every - (self.n - self.min_train) % self.refit_every
            j = min(len(x), i + step)
            feats = np.asarray([self._features(float(v)) for v in x[i:j]], dtype=float)
            out[i:j] = self._score(feats)
            self._learn(feats)
            self.n += j - i
            i = j
        return out
