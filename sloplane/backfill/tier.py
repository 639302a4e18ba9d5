"""The roll-up tier computed from 5m rates, exactly as the generated rules record it.

Inputs are the 5m error and total rates of one label set at evaluation steps (multiples
of ``step`` seconds). Outputs are the samples of the 5m rates themselves, the hour so far
(``slo:sli_*:*_hour_so_far``, at every step) and the clock-hour buckets
(``slo:sli_*:*1h``, at :10 and :40 of every hour), with the same values the rules would
have recorded: grid point ``g`` reads the latest rate in ``[g - 5m, g]`` (Prometheus'
lookback), and every piece is read one grid step behind (see :mod:`sloplane.slo.rules.rollup`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sloplane.slo.naming import (
    BUCKET,
    ERRORS_BUCKET,
    ERRORS_PARTIAL,
    ERRORS_RATE,
    GRID,
    SAMPLES_BUCKET,
    SAMPLES_PARTIAL,
    TOTAL_BUCKET,
    TOTAL_PARTIAL,
    TOTAL_RATE,
)
from sloplane.slo.rules.rollup import LAG

Samples = dict[int, float]  # unix seconds -> value
BUCKET_MINUTES = (600, 2400)  # the bucket is written at :10 and :40 of each hour


@dataclass(frozen=True)
class Series:
    """One recorded series to write: its name, labels and samples in time order."""

    name: str
    labels: Mapping[str, str]
    samples: list[tuple[int, float]]


class _Grid:
    """Prefix sums over the 5-minute grid points of one 5m rate series."""

    def __init__(self, rates: Samples, start: int, end: int) -> None:
        stamps = sorted(rates)
        first = (start // GRID) * GRID
        self.points = list(range(first, end + 1, GRID))
        self.sums = [0.0]
        self.counts = [0]
        for g in self.points:
            i = bisect.bisect_right(stamps, g) - 1
            present = i >= 0 and stamps[i] >= g - GRID
            self.sums.append(self.sums[-1] + (rates[stamps[i]] if present else 0.0))
            self.counts.append(self.counts[-1] + (1 if present else 0))

    def between(self, lo: int, hi: int) -> tuple[float, int]:
        """Sum and count of the grid points g with ``lo < g <= hi``."""
        a = bisect.bisect_right(self.points, lo)
        b = bisect.bisect_right(self.points, hi)
        return self.sums[b] - self.sums[a], self.counts[b] - self.counts[a]


def tier_series(
    errors: Samples, total: Samples, labels: Mapping[str, str], start: int, end: int
) -> Iterator[Series]:
    """Every series the backfill writes for one label set (an SLO, or one of its groups)."""
    yield Series(ERRORS_RATE, labels, sorted(errors.items()))
    yield Series(TOTAL_RATE, labels, sorted(total.items()))
    err_grid = _Grid(errors, start - 2 * BUCKET, end)
    tot_grid = _Grid(total, start - 2 * BUCKET, end)
    steps = sorted(t for t in total if start <= t <= end)
    partial: dict[str, list[tuple[int, float]]] = {n: [] for n in _PARTIALS}
    for t in steps:
        behind = t - LAG
        lo, hi = behind // BUCKET * BUCKET, behind // GRID * GRID
        for name, value in _pieces(err_grid, tot_grid, lo, hi, _PARTIALS):
            partial[name].append((t, value))
    for name, samples in partial.items():
        yield Series(name, labels, samples)
    buckets: dict[str, list[tuple[int, float]]] = {n: [] for n in _BUCKETS}
    for hour in range(start // BUCKET * BUCKET, end + 1, BUCKET):
        for minute in BUCKET_MINUTES:
            t = hour + minute
            if not start <= t <= end:
                continue
            b = (t - LAG) // BUCKET * BUCKET
            pieces = _pieces(err_grid, tot_grid, b - BUCKET, b, _BUCKETS)
            if pieces[2][1] > 0:
                for name, value in pieces:
                    buckets[name].append((t, value))
    for name, samples in buckets.items():
        yield Series(name, labels, samples)


_PARTIALS = (ERRORS_PARTIAL, TOTAL_PARTIAL, SAMPLES_PARTIAL)
_BUCKETS = (ERRORS_BUCKET, TOTAL_BUCKET, SAMPLES_BUCKET)


def _pieces(
    err: _Grid, tot: _Grid, lo: int, hi: int, names: tuple[str, str, str]
) -> list[tuple[str, float]]:
    e, _ = err.between(lo, hi)
    n, count = tot.between(lo, hi)
    return [(names[0], e), (names[1], n), (names[2], float(count))]
