"""The one interface every detector implements, and the small causal building blocks.

A detector sees a series one point at a time and answers with a score in [0, 1]
for that point, computed only from it and the points before it. Back-tests feed
whole arrays through :meth:`Detector.score_many`, which must give exactly the
same scores as feeding the points one by one (detectors may override it for
speed, never for different results). Every structure here has a fixed maximum
size, so memory per series is bounded however long the service runs.
"""

from __future__ import annotations

import abc
import math
from array import array
from collections import deque
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

_LOG_FLOOR = math.log(1e-10)


class Detector(abc.ABC):
    """A streaming, causal anomaly scorer for one series."""

    name: ClassVar[str] = "detector"

    def __init__(self) -> None:
        self._expected: tuple[float, float] | None = None

    @abc.abstractmethod
    def _update(self, t: float, x: float) -> float:
        """Score a finite value ``x`` at ``t`` (epoch seconds) and learn from it."""

    def update(self, t: float, x: float) -> float:
        """Score one point. Missing values (NaN, inf) score 0 and teach nothing."""
        if not math.isfinite(x):
            return 0.0
        s = self._update(float(t), float(x))
        if not s > 0.0:  # also catches NaN
            return 0.0
        return 1.0 if s > 1.0 else s

    def score_many(
        self, t: Sequence[float] | np.ndarray, x: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Score a batch in order; identical to calling :meth:`update` per point."""
        ts = np.asarray(t, dtype=float)
        xs = np.asarray(x, dtype=float)
        out = np.empty(len(xs), dtype=float)
        upd = self.update
        for i in range(len(xs)):
            out[i] = upd(ts[i], xs[i])
        return out

    @property
    def expected_range(self) -> tuple[float, float] | None:
        """The range the detector expected for the last point, for alert annotations."""
        return self._expected

    @property
    def warming_up(self) -> bool:
        """True while it cannot score yet (it answers 0), so a quiet series is not taken
        for a healthy one; detectors without a learning phase are never warming up."""
        return False


class Ring:
    """The last ``size`` floats, in a flat ``array('d')``: 8 bytes a value where a
    deque of Python floats takes 32, which decides how many series fit in memory."""

    __slots__ = ("data", "n", "pos", "size")

    def __init__(self, size: int) -> None:
        self.data = array("d", bytes(8 * size))
        self.size = size
        self.n = 0  # values held
        self.pos = 0  # where the next value goes (the oldest, once full)

    def __len__(self) -> int:
        return self.n

    @property
    def full(self) -> bool:
        return self.n == self.size

    def oldest(self) -> float:
        return self.data[self.pos if self.n == self.size else 0]

    def push(self, v: float) -> None:
        self.data[self.pos] = v
        self.pos = self.pos + 1 if self.pos + 1 < self.size else 0
        if self.n < self.size:
            self.n += 1

    def values(self) -> list[float]:
        """The values held, oldest first."""
        d, p = self.data, self.pos
        if self.n < self.size:
            return d[: self.n].tolist()
        return d[p:].tolist() + d[:p].tolist()


class RunningWindow:
    """Mean and standard deviation of the last ``size`` values in O(1) per update."""

    def __init__(self, size: int) -> None:
        self.values = Ring(size)
        self._sum = 0.0
        self._sumsq = 0.0
        self._since_exact = 0

    def push(self, v: float) -> None:
        if self.values.full:
            old = self.values.oldest()
            self._sum -= old
            self._sumsq -= old * old
        self.values.push(v)
        self._sum += v
        self._sumsq += v * v
        self._since_exact += 1
        if self._since_exact >= 4096:  # cancel accumulated rounding drift
            held = self.values.values()
            self._sum = math.fsum(held)
            self._sumsq = math.fsum(a * a for a in held)
            self._since_exact = 0

    def __len__(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        n = len(self.values)
        return self._sum / n if n else 0.0

    @property
    def std(self) -> float:
        n = len(self.values)
        if n < 2:
            return 0.0
        var = (self._sumsq - self._sum * self._sum / n) / (n - 1)
        return math.sqrt(var) if var > 0 else 0.0


class AnomalyLikelihood:
    """Turns a raw surprise stream into a calibrated, comparable score.

    Raw surprises differ in scale from metric to metric, yet one threshold must
    serve them all. Following Numenta's anomaly likelihood, the short-term mean
    of the raw surprise is compared with the long-run distribution of that mean;
    the Gaussian tail probability is then put on a log scale so that 0.5 means
    "about 1 in 100,000" and 1.0 means "1 in 10^10".
    """

    def __init__(
        self,
        short: int = 10,
        history: int = 2000,
        learning: int = 300,
        min_std: float = 0.01,
        squash_scale: float = 4.0,
    ) -> None:
        self.squash_scale = squash_scale
        self.short: deque[float] = deque(maxlen=short)
        self._short_sum = 0.0
        self.hist = RunningWindow(history)
        # The distribution learns from averages a little in the past, so an
        # unfolding episode is judged against what came before it, not itself.
        self.delay: deque[float] = deque(maxlen=3 * short)
        self.learning = learning
        self.min_std = min_std

    @property
    def warming_up(self) -> bool:
        return len(self.hist) < self.learning

    def update(self, dev: float) -> float:
        if math.isnan(dev):  # the component's NO_OPINION: as before, an ordinary 0
            dev = 0.0
        if dev == 0.0 and not len(self.hist) and not self.delay:
            return 0.0  # the component is still settling: its zeros are not "normal"
        raw = 1.0 - math.exp(-dev / self.squash_scale) if dev > 0 else 0.0
        if len(self.short) == self.short.maxlen:
            self._short_sum -= self.short[0]
        self.short.append(raw)
        self._short_sum += raw
        avg = self._short_sum / len(self.short)
        score = 0.0
        if len(self.hist) >= self.learning:
            mu = self.hist.mean
            sd = max(self.hist.std, self.min_std)
            z = (avg - mu) / sd
            tail = 0.5 * math.erfc(z / math.sqrt(2.0))
            score = math.log(tail + 1e-10) / _LOG_FLOOR
        if len(self.delay) == self.delay.maxlen:
            self.hist.push(self.delay[0])
        self.delay.append(avg)
        return min(max(score, 0.0), 1.0)


class RecordCalibrator:
    """Scores a deviation against the largest one seen recently in the same series.

    Anomalies worth waking someone for are, nearly by definition, unlike the
    series' own recent past; comparing with its own record needs no per-metric
    scale and quiets itself during an episode (the record rises with it). The
    record decays with ``halflife`` points so a long-past incident does not
    mask the next one. Score: ``stat / (stat + record)``; 0.5 ties the record.

    ``warmup`` counts judged points only, so a component that starts judging
    late (a forest fitted after 300 points) first builds a record and is not
    scored as unprecedented the moment it speaks.

    ``stat`` is the mean or the median of the last ``smooth`` deviations: a
    median ignores a lone spike and so measures how *persistently* the series
    is off, which a mean confuses with one very large point.
    """

    def __init__(
        self, smooth: int = 1, halflife: float = 5000.0, warmup: int = 300, median: bool = False
    ) -> None:
        self.recent: deque[float] = deque(maxlen=max(1, smooth))
        self._sum = 0.0
        self.median = median and smooth > 1
        self.decay = 0.5 ** (1.0 / halflife)
        self.warmup = warmup
        self.record = 0.0
        self.n = 0

    def _stat(self, dev: float) -> float:
        if len(self.recent) == self.recent.maxlen:
            self._sum -= self.recent[0]
        self.recent.append(dev)
        self._sum += dev
        if self.median:
            ordered = sorted(self.recent)
            n = len(ordered)
            half = n // 2
            return ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2
        return self._sum / len(self.recent)

    @property
    def warming_up(self) -> bool:
        return self.n <= self.warmup

    def update(self, dev: float) -> float:
        if math.isnan(dev):  # the component cannot judge yet: no score, nothing learnt
            return 0.0
        stat = max(self._stat(dev), 0.0)
        self.n += 1
        score = 0.0
        if self.n > self.warmup and stat > 0:
            score = stat / (stat + self.record) if self.record > 0 else 1.0
        self.record = max(self.record * self.decay, stat)
        return score
