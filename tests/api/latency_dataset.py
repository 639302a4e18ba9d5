"""Latency histograms whose bucket bounds are spelled differently from the SLOs' thresholds.

The same two weeks as dataset.py (times, sample spacing), one sample a minute, job="web",
10 req/s throughout. Requests slower than 1s: 0.05/s, 0.3/s all of Wednesday 2026-11-04
(W45) and 2/s on Thursday 2026-11-12 06:00-09:00 (W46, 20% slow: a page-worthy burn).
Buckets: le 0.5 counts 5/s, le 1 counts everything but the slow requests, le 2.5 half
of the slow ones more, +Inf everything.

* ``py_request_seconds`` is exported as a Python client writes bounds (le="1.0");
* ``go_request_seconds`` as a Go client does (le="1").

Each SLO comes twice, with the same SLI: ``<name>`` has its recorded series backfilled
(computed by hand, cross-checked against the generated rules in test_dataset.py), and
``<name>-fallback`` has none, so the API and reports answer it from the source queries.
The two must agree:

* ``py``: threshold "1" on the le="1.0" histogram;
* ``go``: threshold "1.0" on the le="1" histogram;
* ``typo``: threshold "0.75", a bucket neither histogram has: 100% slow, not "no data".
"""

from __future__ import annotations

import functools
from pathlib import Path

from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO, LatencySLI
from tests.api.dataset import (
    DATA_END,
    DATA_START,
    backfilled,
    recorded_lines,
    ts,
)

TOTAL_RATE = 10.0
FAST_HALF_RATE = 5.0  # the le="0.5" bucket
BURN_START = ts("2026-11-12T06:00")
BURN_END = ts("2026-11-12T09:00")

PY_SLI = LatencySLI(metric="py_request_seconds", threshold="1", selector='job="web"')
GO_SLI = LatencySLI(metric="go_request_seconds", threshold="1.0", selector='job="web"')
TYPO_SLI = LatencySLI(metric="py_request_seconds", threshold="0.75", selector='job="web"')


def _slo(name: str, sli: LatencySLI) -> SLO:
    return SLO(service="web", name=name, objective=99, team="web", sli=sli)


PY, PY_FALLBACK = _slo("py", PY_SLI), _slo("py-fallback", PY_SLI)
GO, GO_FALLBACK = _slo("go", GO_SLI), _slo("go-fallback", GO_SLI)
TYPO, TYPO_FALLBACK = _slo("typo", TYPO_SLI), _slo("typo-fallback", TYPO_SLI)
PAIRS = ((PY, PY_FALLBACK), (GO, GO_FALLBACK), (TYPO, TYPO_FALLBACK))
RECORDED = tuple(recorded for recorded, _ in PAIRS)
LATENCY_CATALOG = Catalog.of([slo for pair in PAIRS for slo in pair])


def slow_rate(t: float) -> float:
    """Requests slower than 1s per second during the minute ending at ``t``."""
    if ts("2026-11-04T00:00") < t <= ts("2026-11-05T00:00"):
        return 0.3
    if BURN_START < t <= BURN_END:
        return 2.0
    return 0.05


def _all_slow(_t: float) -> float:
    return TOTAL_RATE


def _histogram(metric: str, bounds: tuple[str, str, str]) -> list[str]:
    """Cumulative ``_bucket`` and ``_count`` counters; ``bounds`` spell 0.5, 1 and 2.5.

    Every counter starts at 0 (a fresh process), so ``rate()`` extrapolates none of them
    towards the window's start and the source queries count exactly the events in it."""
    rates = {
        bounds[0]: lambda t: FAST_HALF_RATE,
        bounds[1]: lambda t: TOTAL_RATE - slow_rate(t),
        bounds[2]: lambda t: TOTAL_RATE - slow_rate(t) / 2,
        "+Inf": lambda t: TOTAL_RATE,
    }
    minutes = range(int(DATA_START), int(DATA_END) + 1, 60)
    lines: list[str] = []
    series = [(f'{metric}_bucket{{job="web",le="{le}"}}', fn) for le, fn in rates.items()]
    series.append((f'{metric}_count{{job="web"}}', lambda t: TOTAL_RATE))
    for name, fn in series:
        value = 0.0
        for t in minutes:
            if t > DATA_START:
                value += fn(t) * 60
            lines.append(f"{name} {value:.1f} {t}")
    return lines


def openmetrics() -> str:
    lines = _histogram("py_request_seconds", ("0.5", "1.0", "2.5"))
    lines += _histogram("go_request_seconds", ("0.5", "1", "2.5"))
    # recorded series from the first 5m the data covers, so that the SLO window (longer
    # than the data) counts the same events on both paths
    start = DATA_START + 300
    lines += recorded_lines(PY, slow_rate, TOTAL_RATE, start)
    lines += recorded_lines(GO, slow_rate, TOTAL_RATE, start)
    lines += recorded_lines(TYPO, _all_slow, TOTAL_RATE, start)
    return "\n".join(lines) + "\n"


@functools.cache
def built_latency_tsdb() -> Path:
    return backfilled(openmetrics())
