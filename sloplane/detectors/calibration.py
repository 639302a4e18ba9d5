"""How rare is this value for this series? A streaming tail estimate with bounded memory.

A false-alarm budget ("1 false alert per week") is a statement about rarity:
at one point a minute, a week is 10,080 points, so a point must be rarer than
about 1 in 10,080 to alert. Scores themselves do not say how rare they are on
a given series (a noisy series reaches 0.9 daily, a quiet one never), so
:class:`TailEstimate` learns each series' own recent distribution of a
statistic and answers "1 in N" for a new value.

It keeps an exponentially decayed histogram (fixed bins, so memory is a few
kilobytes per series however long it runs). Below the top ``tail_share`` of
the mass, the answer is the histogram's own share. Rarer than anything a
week holds reliably, it extrapolates with a generalised Pareto tail fitted to
the excesses over that level by the method of moments, its shape clamped to
[0, 0.5]: never a bounded tail (which would call any larger value
impossible), at most a heavy one. The fit is refreshed every ``refresh``
points, on a schedule that depends only on the count of points learnt, so
batch and streaming scoring give the same answers.
"""

from __future__ import annotations

import math

import numpy as np

_RESCALE_AT = 1e200
_TINY = 1e-300


class TailEstimate:
    """Streaming estimate of ``P(S >= s)`` for a statistic ``S`` in ``[lo, hi]``.

    Values above ``hi`` are counted in the last bin and judged by the tail
    model. ``halflife`` is in learnt points; ``min_points`` are needed before
    any value is called rare (before that :meth:`exceedance` answers 1).
    """

    def __init__(
        self,
        lo: float = 0.0,
        hi: float = 1.0,
        bins: int = 200,
        halflife: float = 10_080.0,
        min_points: int = 300,
        tail_share: float = 0.02,
        refresh: int = 50,
    ) -> None:
        self.lo = lo
        self.width = (hi - lo) / bins
        self.bins = bins
        self.mass = np.zeros(bins)
        self.weight = 1.0  # of the next point; grows instead of decaying every bin
        self.growth = 2.0 ** (1.0 / halflife)
        self.min_points = min_points
        self.tail_share = tail_share
        self.refresh = refresh
        self.n = 0
        # The fitted model, refreshed every ``refresh`` points.
        self._above = np.ones(bins + 1)  # share of the mass in bins >= i
        self._u = math.inf
        self._p_u = 1.0
        self._scale = 1.0
        self._shape = 0.0
        self.n_eff = 0.0  # the decayed count of points the distribution holds

    def _bin(self, s: float) -> int:
        i = int((s - self.lo) / self.width) if s > self.lo else 0
        return i if i < self.bins else self.bins - 1

    def learn(self, s: float) -> None:
        """Count ``s`` in the recent distribution."""
        i = int((s - self.lo) / self.width) if s > self.lo else 0
        self.mass[i if i < self.bins else self.bins - 1] += self.weight
        self.weight *= self.growth
        if self.weight > _RESCALE_AT:
            self.mass /= self.weight
            self.weight = 1.0
        self.n += 1
        if self.n % self.refresh == 0:
            self._fit()

    @property
    def warming_up(self) -> bool:
        return self.n < self.min_points

    def _fit(self) -> None:
        total = float(self.mass.sum())
        if total <= 0:
            return
        self.n_eff = total / self.weight * self.growth
        above = np.concatenate((np.cumsum(self.mass[::-1])[::-1], [0.0])) / total
        self._above = above
        # The tail starts at the lowest bin edge with at most tail_share above it.
        start = int(np.argmax(above <= self.tail_share))
        start = max(start, 1)
        self._u = self.lo + start * self.width
        self._p_u = float(above[start])
        excess_mass = self.mass[start:]
        if self._p_u <= 0 or excess_mass.sum() <= 0:
            self._scale, self._shape = self.width, 0.0
            return
        centres = (np.arange(start, self.bins) + 0.5) * self.width + self.lo - self._u
        w = excess_mass / excess_mass.sum()
        mean = float(w @ centres)
        var = float(w @ (centres - mean) ** 2) + self.width**2 / 12.0
        mean = max(mean, self.width / 2.0)
        shape = 0.5 * (1.0 - mean * mean / var)
        self._shape = min(max(shape, 0.0), 0.5)
        self._scale = max(mean * (1.0 - self._shape), self.width / 2.0)

    def exceedance(self, s: float) -> float:
        """Estimated share of recent points at ``s`` or beyond, in (0, 1]."""
        if self.n < self.min_points:
            return 1.0
        if s < self._u:
            return min(max(float(self._above[self._bin(s)]), self._p_u), 1.0)
        y = s - self._u
        if self._shape > 0.0:
            p = self._p_u * (1.0 + self._shape * y / self._scale) ** (-1.0 / self._shape)
        else:
            p = self._p_u * math.exp(-y / self._scale)
        return p if p > _TINY else _TINY  # never "impossible", however far out

    @property
    def resolution(self) -> float:
        """The smallest share the histogram itself can vouch for: one point in all it holds."""
        return 1.0 / self.n_eff if self.n_eff > 0 else 1.0

    def one_in(self, s: float) -> float:
        """``N`` in "1 in N points": how unusual ``s`` is for this series."""
        return 1.0 / max(self.exceedance(s), 1e-300)


_UNITS = {"hour": 3600.0, "day": 86400.0, "week": 604800.0}


def parse_false_alarms(text: str | float) -> float:
    """``"1/week"``, ``"0.5/day"``, ``"2/hour"`` or a plain number (per week) ->
    expected false alert episodes per second of data."""
    if isinstance(text, int | float):
        count, unit = float(text), "week"
    else:
        count_s, sep, unit = str(text).strip().partition("/")
        unit = unit.strip().removesuffix("s") or "week"
        try:
            count = float(count_s)
        except ValueError:
            count = math.nan
        if sep and unit not in _UNITS:
            raise ValueError(f"false_alarms: unit must be hour, day or week, got {unit!r}")
    if not (math.isfinite(count) and count > 0):
        raise ValueError(f"false_alarms: {text!r} must be a positive count such as '1/week'")
    return count / _UNITS[unit]
