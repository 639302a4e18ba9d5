"""The console's Prometheus history: tests/api/dataset.py's two weeks plus one grouped SLO.

``shop_requests_total`` counts 10 req/s for each of four jobs from the start of the data
to its end, with errors per job chosen so that each group of ``shop-availability-by-job``
(objective 99%, 30d window, read from the source queries: no recorded series) has its
own status at the end of week 2026-W46 (the window holds the data's ~14 days and 3 hours):

* ``web``: no errors (ok, 100% budget left);
* ``api``: 0.05/s throughout (0.5% errors: about half the budget left, ok);
* ``cart``: 0.08/s throughout (0.8%: about a fifth left, at risk);
* ``batch``: 0.3/s all of W46 (about 1.5%: breached).
"""

from __future__ import annotations

import functools
from pathlib import Path

from tests.api import dataset
from tests.api.dataset import DATA_END, DATA_START, W46_END, W46_START

SHOP_ERRORS = {"web": 0.0, "api": 0.05, "cart": 0.08, "batch": 0.3}


def shop_error_rate(job: str, t: float) -> float:
    if job == "batch":
        return SHOP_ERRORS[job] if W46_START < t <= W46_END else 0.0
    return SHOP_ERRORS[job]


def shop_openmetrics() -> str:
    lines: list[str] = []
    for job in SHOP_ERRORS:
        ok = err = 0.0
        ok_lines, err_lines = [], []
        for t in range(int(DATA_START), int(DATA_END) + 1, 60):
            e = shop_error_rate(job, t) * 60
            ok += 600 - e
            err += e
            ok_lines.append(f'shop_requests_total{{job="{job}",code="200"}} {ok:.1f} {t}')
            err_lines.append(f'shop_requests_total{{job="{job}",code="500"}} {err:.1f} {t}')
        lines += ok_lines + err_lines
    return "\n".join(lines) + "\n"


@functools.cache
def console_tsdb() -> Path:
    """The API dataset's counters, ALERTS and recorded series, and the shop's counters."""
    text = dataset.openmetrics().removesuffix("# EOF\n") + dataset.recorded_openmetrics()
    return dataset.backfilled(text + shop_openmetrics())
