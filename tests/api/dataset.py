"""A known two-week history, backfilled into a real Prometheus, with numbers computed by hand.

Times are UTC. Week 2026-W45 starts Monday 2026-11-02 00:00, week 2026-W46 on
2026-11-09 and ends 2026-11-16 00:00. Samples every minute.

checkout-availability (objective 99%, window 30d, team payments), recording rules backfilled:
  total traffic 10 req/s throughout;
  W45: errors 0.1/s all of Wednesday 2026-11-04                   ->  8 640 errors
  W46: errors 2/s Tue 2026-11-10 12:00-13:00 (a page-worthy burn) ->  7 200 errors
       errors 0.12/s all of Friday 2026-11-13                     -> 10 368 errors
  ALERTS (page) firing Tue 2026-11-10 12:02 .. 13:00, one sample a minute.

search-availability (objective 99%, window 30d, team discovery), NO recording rules
(the API must fall back to the source queries):
  total 5 req/s; errors 0.04/s throughout W46 only.

The TSDB is built once per test process and copied for each Prometheus started on it.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sloplane.slo import naming
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO
from tests.support.processes import backfill_openmetrics


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


W45_START = ts("2026-11-02T00:00")
W46_START = ts("2026-11-09T00:00")
W46_END = ts("2026-11-16T00:00")
DATA_START = W45_START - 3 * 3600
DATA_END = W46_END + 3 * 3600
RULES_START = W45_START
RULES_END = W46_END + 3600
WEEK = 7 * 86400
DAY = 86400

CHECKOUT = SLO(
    service="checkout",
    name="availability",
    objective=99,
    team="payments",
    sli={
        "kind": "events",
        "errors": 'http_requests_total{job="checkout",code=~"5.."}',
        "total": 'http_requests_total{job="checkout"}',
    },
)
SEARCH = SLO(
    service="search",
    name="availability",
    objective=99,
    team="discovery",
    sli={
        "kind": "events",
        "errors": 'search_requests_total{code=~"5.."}',
        "total": "search_requests_total",
    },
)
CATALOG = Catalog.of([CHECKOUT, SEARCH])
ALERT_START = ts("2026-11-10T12:02")
ALERT_END = ts("2026-11-10T13:00")


def checkout_error_rate(t: float) -> float:
    """Errors per second during the minute ending at ``t``."""
    if ts("2026-11-04T00:00") < t <= ts("2026-11-05T00:00"):
        return 0.1
    if ts("2026-11-10T12:00") < t <= ts("2026-11-10T13:00"):
        return 2.0
    if ts("2026-11-13T00:00") < t <= ts("2026-11-14T00:00"):
        return 0.12
    return 0.0


def search_error_rate(t: float) -> float:
    return 0.04 if W46_START < t <= W46_END else 0.0


def openmetrics() -> str:
    minutes = range(int(DATA_START), int(DATA_END) + 1, 60)
    lines: list[str] = []
    for metric, job, total_rate, err_fn in (
        ("http_requests_total", 'job="checkout",', 10.0, checkout_error_rate),
        ("search_requests_total", "", 5.0, search_error_rate),
    ):
        ok = err = 0.0
        ok_lines, err_lines = [], []
        for t in minutes:
            e = err_fn(t) * 60
            ok += total_rate * 60 - e
            err += e
            ok_lines.append(f'{metric}{{{job}code="200"}} {ok:.1f} {t}')
            err_lines.append(f'{metric}{{{job}code="500"}} {err:.1f} {t}')
        lines += ok_lines + err_lines
    labels = (
        'alertname="CheckoutAvailabilityErrorBudgetBurn",alertstate="firing",severity="page",'
        'sloplane_id="checkout-availability",sloplane_service="checkout",sloplane_slo="availability"'
    )
    lines += [f"ALERTS{{{labels}}} 1 {t}" for t in range(int(ALERT_START), int(ALERT_END) + 1, 60)]
    return "\n".join(lines) + "\n# EOF\n"


def minute_errors(err_fn: Callable[[float], float]) -> tuple[int, list[float]]:
    """Prefix sums of errors per minute: cum[i] = errors in (DATA_START, DATA_START + 60 i]."""
    start = int(DATA_START)
    n = int(DATA_END - DATA_START) // 60
    cum = [0.0]
    for i in range(1, n + 1):
        cum.append(cum[-1] + err_fn(start + 60 * i) * 60)
    return start, cum


def recorded_lines(
    slo: SLO,
    err_fn: Callable[[float], float],
    total_rate: float,
    rules_start: float = RULES_START,
) -> list[str]:
    """The series the generated recording rules record for ``slo``, computed by hand at a 5m
    evaluation interval from ``rules_start`` to RULES_END, for source counters that count
    ``err_fn(t)`` errors and ``total_rate`` events per second in the minute ending at ``t``:
    windows up to 2h from the source counters (where the data covers them), longer ones as
    sum_over_time of the 5m rates (both ends inclusive, as Prometheus 2.x evaluates ranges).
    ``test_dataset_matches_generated_rules`` checks these against the generated rules."""
    start, cum = minute_errors(err_fn)

    def errors(a: float, b: float) -> float:
        return cum[int(b - start) // 60] - cum[int(a - start) // 60]

    grid = list(range(int(rules_start), int(RULES_END) + 1, 300))
    err5 = {t: errors(t - 300, t) / 300 for t in grid}
    prefix = [0.0]
    for t in grid:
        prefix.append(prefix[-1] + err5[t])
    labels = ",".join(f'{k}="{v}"' for k, v in naming.Labels().identity(slo).items())
    lines = [f"{naming.ERRORS_RATE}{{{labels}}} {err5[t]!r} {t}" for t in grid]
    lines += [f"{naming.TOTAL_RATE}{{{labels}}} {total_rate!r} {t}" for t in grid]
    for w in naming.recorded_windows(slo):
        name = naming.ratio_metric(w)
        for i, t in enumerate(grid):
            if w <= naming.SHORT_WINDOW_MAX:
                if t - w < start:
                    continue
                value = errors(t - w, t) / (total_rate * w)
            else:
                first = max(0, i - w // 300)
                value = (prefix[i + 1] - prefix[first]) / (total_rate * (i + 1 - first))
            lines.append(f"{name}{{{labels}}} {value!r} {t}")
    return lines


def recorded_openmetrics() -> str:
    """The recorded series for CHECKOUT (see :func:`recorded_lines`)."""
    return "\n".join(recorded_lines(CHECKOUT, checkout_error_rate, 10.0)) + "\n"


@functools.cache
def built_tsdb() -> Path:
    """Source counters, ALERTS and the recorded series, backfilled with promtool (openmetrics).

    ``promtool tsdb create-blocks-from rules`` takes minutes for two weeks of these rules
    (it writes a block per rule per two hours), so the recorded series are computed by hand
    and cross-checked against the generated rules at sample times instead."""
    return backfilled(openmetrics().removesuffix("# EOF\n") + recorded_openmetrics())


def backfilled(text: str) -> Path:
    """A new TSDB directory holding the OpenMetrics ``text``."""
    data = Path(tempfile.mkdtemp(prefix="sloplane-api-tsdb-")) / "data"
    backfill_openmetrics(text + "# EOF\n", data, block_duration="24h")
    return data


def tsdb_copy(source: Path | None = None) -> Path:
    """A copy of ``source`` (the built TSDB by default) for one Prometheus to start on."""
    dst = Path(tempfile.mkdtemp(prefix="sloplane-api-tsdb-copy-")) / "data"
    shutil.copytree(
        source or built_tsdb(), dst, ignore=shutil.ignore_patterns("lock", "wal", "chunks_head")
    )
    return dst
