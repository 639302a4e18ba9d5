"""Rule evaluation cost in a real Prometheus: sloplane's rule shape against Sloth's and Pyrra's.

Run: ``.venv/bin/python benchmarks/rules_evaluation.py [--slos 200] [--minutes 3] [--out FILE.md]``

Data (same TSDB for every run): per SLO five counter series
``http_requests_total{service="svcNNN", code="200|404|429|500|503"}`` over ``--days`` (30)
days at a ``--step`` (60 s) resolution, with uneven traffic (night traffic is 10% of the
day peak, weekends 60%, a constant floor of background errors so the error *ratio* is
higher at night, and a few incidents), written as OpenMetrics and backfilled with
``promtool tsdb create-blocks-from openmetrics``. The 5m series the rules record
(``slo:sli_errors:rate5m``/``slo:sli_total:rate5m`` for sloplane,
``slo:sli_error:ratio_rate5m`` for Sloth) are written into the same file, computed from the
counters exactly as Prometheus 2.x computes ``rate(x[5m])`` on step-aligned samples
(``increase / 300``: the inclusive range holds the samples at both ends, so nothing is
extrapolated); a sample of them is checked against Prometheus' own evaluation of the rule
expressions. The roll-up tier's history (hour buckets at :10 and :40, the hour so far near
the two ends of the window, the head at the end) is computed from them the way the rules
record it (:func:`write_rollup_series`). ``promtool tsdb create-blocks-from rules`` would take far longer (one range
query per rule per block).

After the backfill the counters continue live: a small scrape target in this process
serves them at wall-clock time (``job``/``instance`` are dropped so scraped and backfilled
samples are the same series). Prometheus then runs on a fresh copy of the data per rule set
(``--shapes``): without rules (baseline: scraping and TSDB), with sloplane's rules, with
Pyrra's shape (``increase`` of the raw counters over 30d every 2m30s, burn rates every 30s)
and with the same SLOs in Sloth's shape (generated below from Sloth's ``examples/_gen`` output: three groups
per SLO, seven windows from the raw counters, the period as the average of 5m ratios). Each
run waits for every group's first (cold) evaluation and one more interval, then measures
for ``--minutes``: per-group ``prometheus_rule_group_last_duration_seconds`` at each
evaluation (sum over groups per cycle; p50/max), the ``prometheus_rule_evaluation_duration_seconds``
and ``prometheus_rule_group_duration_seconds`` summaries, the process CPU seconds (from
``/proc``), RSS, and the series the rules write.

Exactness: at the end of the backfilled range each shape's 30d error-ratio expression (as
generated) is queried and compared with the true ratio (errors / requests from the counters).

Prometheus runs with ``GOMAXPROCS=1`` (tests/support/processes.py), the work dir is
``benchmarks/.work/rules_evaluation`` and is removed at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import http.server
import math
import os
import shutil
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sloplane.artifacts import GenerateSettings  # noqa: E402
from sloplane.slo.catalog import Catalog  # noqa: E402
from sloplane.slo.durations import format_duration  # noqa: E402
from sloplane.slo.model import SLO, EventsSLI  # noqa: E402
from sloplane.slo.naming import (  # noqa: E402
    ERRORS_BUCKET,
    ERRORS_HEAD,
    ERRORS_PARTIAL,
    ERRORS_RATE,
    LONG_GROUP_INTERVAL,
    SAMPLES_BUCKET,
    SAMPLES_HEAD,
    SAMPLES_PARTIAL,
    TOTAL_BUCKET,
    TOTAL_HEAD,
    TOTAL_PARTIAL,
    TOTAL_RATE,
)
from sloplane.slo.rules import compile_rules  # noqa: E402
from tests.support.processes import (  # noqa: E402
    Prometheus,
    free_port,
    promtool,
    run_prometheus,
)

WORK = ROOT / "benchmarks" / ".work" / "rules_evaluation"
OBJECTIVES = (99.0, 99.5, 99.9, 99.95)
CODES = ("200", "404", "429", "500", "503")
# Groups evaluated less often than the measurement lasts (sloplane's 30m roll-up): their
# offsets are spread over the interval, so the measured minutes hold their fair share of
# evaluations; they are left out of the wait for a first evaluation and the cycle sums.
SLOW_GROUPS = ("-rollup",)
LIVE_HOURS = 4  # counters are generated this far past the backfill for the live scrapes


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- SLOs --------------------------------------------------------------------------------


def make_slos(n: int) -> list[SLO]:
    return [_slo(i) for i in range(n)]


def _service(i: int) -> str:
    return f"svc{i:03d}"


def _errors_query(i: int) -> str:
    codes = "5..|429" if i % 4 == 3 else "5.."
    return f'http_requests_total{{service="{_service(i)}",code=~"{codes}"}}'


def _total_query(i: int) -> str:
    return f'http_requests_total{{service="{_service(i)}"}}'


def _slo(i: int) -> SLO:
    return SLO(
        service=_service(i),
        name="availability",
        objective=OBJECTIVES[i % len(OBJECTIVES)],
        window="30d",
        labels={"owner": f"team{i % 5}"},
        sli=EventsSLI(errors=_errors_query(i), total=_total_query(i)),
    )


# -- Sloth's rule shape (from slok/sloth examples/_gen/getting-started.yml) --------------

SLOTH_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
SLOTH_ALERTS = (
    ("page", (("5m", "1h", 14.4), ("30m", "6h", 6.0))),
    ("ticket", (("2h", "1d", 3.0), ("6h", "3d", 1.0))),
)


def _go_float(value: float) -> str:
    """Go's shortest float formatting, as Sloth prints objectives (same as Python's repr)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def sloth_groups(i: int, slo: SLO) -> list[dict[str, Any]]:
    """The three rule groups Sloth generates for one events SLO, 30d window."""
    ids = {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}
    sel = ", ".join(f'{k}="{v}"' for k, v in ids.items())
    labels = {**slo.labels, **ids}
    objective = slo.objective_percent / 100
    budget = 1 - objective
    sli = []
    for w in SLOTH_WINDOWS:
        sli.append(
            {
                "record": f"slo:sli_error:ratio_rate{w}",
                "expr": f"(sum(rate({_errors_query(i)}[{w}])))\n/\n(sum(rate({_total_query(i)}[{w}])))\n",
                "labels": {**labels, "sloth_window": w},
            }
        )
    sli.append(
        {
            "record": "slo:sli_error:ratio_rate30d",
            "expr": (
                f"sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[30d])\n"
                "/ ignoring (sloth_window)\n"
                f"count_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[30d])\n"
            ),
            "labels": {"sloth_window": "30d"},
        }
    )
    join = "/ on(sloth_id, sloth_slo, sloth_service) group_left"
    meta: list[dict[str, Any]] = [
        {"record": "slo:objective:ratio", "expr": f"vector({_go_float(objective)})"},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{_go_float(objective)})"},
        {"record": "slo:time_period:days", "expr": "vector(30)"},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{{{sel}}}\n{join}\nslo:error_budget:ratio{{{sel}}}\n",
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate30d{{{sel}}}\n{join}\nslo:error_budget:ratio{{{sel}}}\n",
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{{{sel}}}",
        },
    ]
    meta = [{**rule, "labels": labels} for rule in meta]
    meta.append(
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **labels,
                "sloth_mode": "cli-gen-prom",
                "sloth_objective": _go_float(slo.objective_percent),
                "sloth_spec": "prometheus/v1",
                "sloth_version": "bench",
            },
        }
    )
    alerts = []
    for severity, pairs in SLOTH_ALERTS:
        terms = []
        for short, long, factor in pairs:
            s = f"(slo:sli_error:ratio_rate{short}{{{sel}}} > ({_go_float(factor)} * {budget!r}))"
            lng = f"(slo:sli_error:ratio_rate{long}{{{sel}}} > ({_go_float(factor)} * {budget!r}))"
            terms.append(f"(\n    {s}\n    and ignoring (sloth_window)\n    {lng}\n)")
        alerts.append(
            {
                "alert": f"{slo.service.capitalize()}HighErrorRate",
                "expr": "\nor ignoring (sloth_window)\n".join(terms) + "\n",
                "labels": {"severity": severity, "sloth_severity": severity},
                "annotations": {
                    "summary": f"High error rate on '{slo.service}' requests responses",
                    "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
                    "SLO error budget burn rate is too fast.",
                },
            }
        )
    return [
        {"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": sli},
        {"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": meta},
        {"name": f"sloth-slo-alerts-{slo.id}", "rules": alerts},
    ]


def write_sloth_rules(slos: list[SLO], dest: Path) -> dict[str, str]:
    """One file per SLO; returns each SLO's 30d ratio expression."""
    dest.mkdir(parents=True, exist_ok=True)
    period = {}
    for i, slo in enumerate(slos):
        groups = sloth_groups(i, slo)
        (dest / f"{slo.id}.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        period[slo.id] = groups[0]["rules"][-1]["expr"]
    return period


# -- Pyrra's rule shape (pyrra-dev/pyrra, kubernetes/slo.go: ratio SLO) ------------------

PYRRA_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
PYRRA_ALERTS = (("5m", "1h", 14.0), ("30m", "6h", 7.0), ("2h", "1d", 2.0), ("6h", "3d", 1.0))


def _pyrra_errors(i: int) -> str:
    codes = "5..|429" if i % 4 == 3 else "5.."
    return f'code=~"{codes}"'


def pyrra_groups(i: int, slo: SLO) -> list[dict[str, Any]]:
    """Pyrra's two groups for one ratio SLO: the window's ``increase`` of the raw counters
    every 2m30s, and burn rates from the raw counters every 30s (Pyrra's defaults)."""
    sel = f'service="{_service(i)}"'
    labels = {"slo": slo.id}
    increase = [
        {
            "record": "http_requests:increase30d",
            "expr": f"sum by (code) (increase(http_requests_total{{{sel}}}[30d]))",
            "labels": labels,
        },
        {
            "alert": "SLOMetricAbsent",
            "expr": f"absent(http_requests_total{{{sel}}}) == 1",
            "for": "2m",
            "labels": {**labels, "severity": "critical"},
        },
    ]
    burn: list[dict[str, Any]] = []
    for w in PYRRA_WINDOWS:
        burn.append(
            {
                "record": f"http_requests:burnrate{w}",
                "expr": (
                    f"sum(rate(http_requests_total{{{_pyrra_errors(i)},{sel}}}[{w}]))\n"
                    f"/\nsum(rate(http_requests_total{{{sel}}}[{w}]))"
                ),
                "labels": labels,
            }
        )
    budget = 1 - slo.objective_percent / 100
    for short, long, factor in PYRRA_ALERTS:
        burn.append(
            {
                "alert": "ErrorBudgetBurn",
                "expr": (
                    f'http_requests:burnrate{short}{{slo="{slo.id}"}} > ({factor} * {budget!r})\n'
                    f'and\nhttp_requests:burnrate{long}{{slo="{slo.id}"}} > ({factor} * {budget!r})'
                ),
                "labels": {**labels, "long": long, "short": short, "severity": "warning"},
            }
        )
    return [
        {"name": f"{slo.id}-increase", "interval": "2m30s", "rules": increase},
        {"name": slo.id, "interval": "30s", "rules": burn},
    ]


def write_pyrra_rules(slos: list[SLO], dest: Path) -> dict[str, str]:
    """One file per SLO; returns each SLO's 30d ratio expression (from the raw counters)."""
    dest.mkdir(parents=True, exist_ok=True)
    period = {}
    for i, slo in enumerate(slos):
        groups = pyrra_groups(i, slo)
        (dest / f"{slo.id}.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        period[slo.id] = (
            f'sum(increase(http_requests_total{{{_pyrra_errors(i)},service="{_service(i)}"}}[30d]))'
            f' / sum(increase(http_requests_total{{service="{_service(i)}"}}[30d]))'
        )
    return period


def write_our_rules(slos: list[SLO], dest: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """sloplane's rule files; returns each SLO's rules by record name."""
    dest.mkdir(parents=True, exist_ok=True)
    out = compile_rules(Catalog.of(slos), GenerateSettings(unit_tests=False))
    by_slo: dict[str, dict[str, dict[str, Any]]] = {}
    for path, text in out.items():
        (dest / Path(path).name).write_text(text)
        groups = yaml.safe_load(text)["groups"]
        slo_id = groups[0]["name"].removeprefix("sloplane-")
        by_slo[slo_id] = {r["record"]: r for g in groups for r in g["rules"] if "record" in r}
    return by_slo


# The roll-up tier's rules are the same for every SLO but for the ``sloplane_id`` matcher.
SHAREABLE = frozenset(
    {
        ERRORS_PARTIAL,
        TOTAL_PARTIAL,
        SAMPLES_PARTIAL,
        ERRORS_HEAD,
        TOTAL_HEAD,
        SAMPLES_HEAD,
        ERRORS_BUCKET,
        TOTAL_BUCKET,
        SAMPLES_BUCKET,
    }
)


def write_shared_rules(src: Path, dest: Path) -> None:
    """A prototype, not what sloplane generates: the roll-up tier and the composed windows
    as *one* rule per series for all SLOs (the per-SLO matcher removed; every input already
    carries the SLO's labels, so the vector matching pairs each SLO's pieces), the rest
    per SLO as generated. It measures how much of sloplane's cost is the fixed cost per
    rule evaluation rather than the data the rules read. All SLOs here have the same
    windows; a real layout would need one shared group per set of windows.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shared: dict[str, list[dict[str, Any]]] = {"-long": [], "-rollup": []}
    for path in sorted(src.glob("*.yml")):
        groups = yaml.safe_load(path.read_text())["groups"]
        slo_id = groups[0]["name"].removeprefix("sloplane-")
        first = not shared["-long"]
        for group in groups:
            suffix = next((x for x in shared if group["name"].endswith(x)), None)
            if suffix is None:
                continue
            keep = []
            for rule in group["rules"]:
                record = rule.get("record", "")
                if record in SHAREABLE or record.startswith(
                    ("slo:sli_error:ratio_rate", "slo:sli_coverage:")
                ):
                    if first:
                        expr = rule["expr"].replace(f'{{sloplane_id="{slo_id}"}}', "")
                        shared[suffix].append({"record": record, "expr": expr})
                else:
                    keep.append(rule)
            group["rules"] = keep
        groups = [g for g in groups if g["rules"]]
        (dest / path.name).write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    intervals = {"-long": format_duration(LONG_GROUP_INTERVAL), "-rollup": "30m"}
    (dest / "shared.yml").write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {"name": f"sloplane-shared{k}", "interval": intervals[k], "rules": v}
                    for k, v in shared.items()
                ]
            },
            sort_keys=False,
        )
    )


# -- traffic -----------------------------------------------------------------------------


@dataclass
class Traffic:
    """Integer counters per code on the step grid, and the SLO's error/total sums."""

    counters: dict[str, np.ndarray]
    errors: np.ndarray
    total: np.ndarray


def traffic(i: int, ts: np.ndarray, step: int, seed: int) -> Traffic:
    rng = np.random.default_rng(seed * 100_003 + i)
    base = rng.uniform(5, 200)  # requests/s at the daily peak
    hours = (ts / 3600 + rng.uniform(-2, 2)) % 24
    daily = 0.1 + 0.9 * 0.5 * (1 - np.cos(2 * np.pi * (hours - 3) / 24))  # 10% at 03:00
    weekend = np.where(((ts // 86400) + 3) % 7 >= 5, 0.6, 1.0)
    total = base * daily * weekend
    errors = base * rng.uniform(2e-4, 6e-4) + rng.uniform(2e-4, 1e-3) * total
    for _ in range(3):  # incidents: 20 min to 2 h at 2-20% errors
        start = rng.uniform(ts[0], ts[-1])
        inside = (ts >= start) & (ts < start + rng.uniform(1200, 7200))
        errors = np.where(inside, np.maximum(errors, rng.uniform(0.02, 0.2) * total), errors)
    errors = np.minimum(errors, total)
    ok = total - errors
    rates = {
        "200": ok * 0.97,
        "404": ok * 0.0295,
        "429": ok * 0.0005,
        "500": errors * 0.7,
        "503": errors * 0.3,
    }
    counters = {}
    for code, rate in rates.items():
        start_value = rng.uniform(0, 1e6)
        counters[code] = np.floor(start_value + np.cumsum(rate * step)).astype(np.int64)
    error_codes = ("429", "500", "503") if i % 4 == 3 else ("500", "503")
    err = sum((counters[c] for c in error_codes), np.zeros(len(ts), dtype=np.int64))
    tot = sum((counters[c] for c in CODES), np.zeros(len(ts), dtype=np.int64))
    return Traffic(counters, err, tot)


# -- OpenMetrics ---------------------------------------------------------------------------


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _write_series(out: Any, prefix: str, values: list[Any], ts: list[str]) -> None:
    out.write("".join([f"{prefix} {v} {t}\n" for v, t in zip(values, ts, strict=True)]))


@dataclass
class Dataset:
    start: int
    end: int
    step: int
    ts: np.ndarray  # backfill grid plus LIVE_HOURS
    last: int  # index of ``end`` in ``ts``
    truth: dict[str, float] = field(default_factory=dict)
    live: dict[str, np.ndarray] = field(default_factory=dict)  # series -> counters from end-5m
    samples: int = 0


def write_openmetrics(
    slos: list[SLO],
    ours: dict[str, dict[str, dict[str, Any]]],
    sloth_labels: dict[str, dict[str, str]],
    path: Path,
    days: int,
    step: int,
    seed: int,
) -> Dataset:
    end = int(time.time()) // step * step
    start = end - days * 86400
    ts = np.arange(start, end + LIVE_HOURS * 3600 + step, step, dtype=np.int64)
    last = (end - start) // step
    data = Dataset(start, end, step, ts, last)
    ts_text = [str(t) for t in ts[: last + 1].tolist()]
    w = 300 // step
    sums: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with path.open("w") as out:
        out.write("# TYPE http_requests counter\n")
        for i, slo in enumerate(slos):
            tr = traffic(i, ts, step, seed)
            for code, counter in tr.counters.items():
                prefix = "http_requests_total" + _labels({"service": slo.service, "code": code})
                _write_series(out, prefix, counter[: last + 1].tolist(), ts_text)
                data.live[prefix] = counter[last - w :]
                data.samples += last + 1
            sums[slo.id] = (tr.errors[: last + 1], tr.total[: last + 1])
            e, n = tr.errors, tr.total
            data.truth[slo.id] = float(e[last] - e[0]) / float(n[last] - n[0])
            if i % 20 == 19:
                log(f"  counters of {i + 1}/{len(slos)} SLOs written")
        for record, pick in ((ERRORS_RATE, 0), (TOTAL_RATE, 1)):
            out.write(f"# TYPE {record} gauge\n")
            for slo in slos:
                series = sums[slo.id][pick]
                rate = (series[w:] - series[:-w]) / 300
                prefix = record + _labels(ours[slo.id][record]["labels"])
                _write_series(out, prefix, rate.tolist(), ts_text[w:])
                data.samples += len(rate)
        data.samples += write_rollup_series(out, slos, ours, sums, ts, last, step)
        out.write("# TYPE slo:sli_error:ratio_rate5m gauge\n")
        for slo in slos:
            e, n = sums[slo.id]
            de, dn = e[w:] - e[:-w], n[w:] - n[:-w]
            keep = dn > 0
            prefix = "slo:sli_error:ratio_rate5m" + _labels(sloth_labels[slo.id])
            kept_ts = [t for t, k in zip(ts_text[w:], keep.tolist(), strict=True) if k]
            _write_series(out, prefix, (de[keep] / dn[keep]).tolist(), kept_ts)
            data.samples += len(kept_ts)
        out.write("# EOF\n")
    return data


def _grid_rates(series: np.ndarray, step: int) -> np.ndarray:
    """The 5m rate at every step (NaN for the first 5 minutes), as the rules record it."""
    w = 300 // step
    rate = np.full(len(series), np.nan)
    rate[w:] = (series[w:] - series[:-w]) / 300
    return rate


def write_rollup_series(
    out: Any,
    slos: list[SLO],
    ours: dict[str, dict[str, dict[str, Any]]],
    sums: dict[str, tuple[np.ndarray, np.ndarray]],
    ts: np.ndarray,
    last: int,
    step: int,
) -> int:
    """The roll-up tier's history, as the rules would have recorded it (numpy, exact).

    Clock-hour buckets every 30 minutes (at :10 and :40, for the hour that ended at least
    5 minutes before); the hour so far where the live rules read it (the last two hours,
    for the head, and around 30 days back, for the tail); the head at the last steps (the
    exactness check reads the 30d expression at the end of the backfill, before any rule
    ran).
    """
    stamps = ts[: last + 1]
    on_grid = stamps % 300 == 0
    written = 0
    live = LIVE_HOURS * 3600
    partial_at = (stamps >= stamps[-1] - 2 * 3600) | (
        (stamps >= stamps[-1] - 30 * 86400 - 3600) & (stamps <= stamps[-1] - 30 * 86400 + live)
    )
    head_at = stamps >= stamps[-1] - 600
    bucket_at = stamps % 1800 == 600
    tiers = (
        (ERRORS_BUCKET, ERRORS_PARTIAL, ERRORS_HEAD, 0, False),
        (TOTAL_BUCKET, TOTAL_PARTIAL, TOTAL_HEAD, 1, False),
        (SAMPLES_BUCKET, SAMPLES_PARTIAL, SAMPLES_HEAD, 1, True),
    )
    grid_idx = np.flatnonzero(on_grid)
    for bucket, partial, head, pick, count in tiers:
        for name in (bucket, partial, head):
            out.write(f"# TYPE {name} gauge\n")
        for slo in slos:
            rate = _grid_rates(sums[slo.id][pick], step)
            grid_vals = rate[grid_idx]
            present = ~np.isnan(grid_vals)
            vals = present.astype(float) if count else np.where(present, grid_vals, 0.0)
            cum = np.concatenate([[0.0], np.cumsum(vals)])  # cum[k] = sum of grid points < k
            grid_t = stamps[grid_idx]

            def grid_sum(
                lo: np.ndarray, hi: np.ndarray, cum: np.ndarray = cum, grid_t: np.ndarray = grid_t
            ) -> np.ndarray:
                """Sum over grid points g with lo < g <= hi."""
                a = np.searchsorted(grid_t, lo, side="right")
                b = np.searchsorted(grid_t, hi, side="right")
                return cum[b] - cum[a]

            behind = stamps - 300  # the tier reads the grid one step behind
            g = behind // 300 * 300
            hour = behind // 3600 * 3600
            for name, mask, lo, hi in (
                (partial, partial_at, hour, g),
                (head, head_at, hour - 3600, g),
            ):
                sel = np.flatnonzero(mask)
                values = grid_sum(lo[sel], hi[sel])
                prefix = name + _labels(ours[slo.id][name]["labels"])
                _write_series(out, prefix, values.tolist(), [str(t) for t in stamps[sel]])
                written += len(sel)
            sel = np.flatnonzero(bucket_at)
            end = (stamps[sel] - 300) // 3600 * 3600
            values = grid_sum(end - 3600, end)
            prefix = bucket + _labels(ours[slo.id][bucket]["labels"])
            _write_series(out, prefix, values.tolist(), [str(t) for t in stamps[sel]])
            written += len(sel)
    return written


# -- live counters -----------------------------------------------------------------------


class CounterServer:
    """Serves the counters at wall-clock time, interpolated on the step grid."""

    def __init__(self, data: Dataset) -> None:
        self.data = data
        self.port = free_port()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.exposition(time.time()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def exposition(self, now: float) -> str:
        d = self.data
        pos = (now - d.end) / d.step + 300 // d.step
        k = min(int(pos), len(d.ts) - d.last - 2 + 300 // d.step)
        frac = min(pos - k, 1.0)
        lines = ["# TYPE http_requests_total counter"]
        for prefix, values in d.live.items():
            value = values[k] + (values[k + 1] - values[k]) * frac
            lines.append(f"{prefix} {value:.3f}")
        return "\n".join(lines) + "\n"

    def __enter__(self) -> CounterServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- measuring a run ---------------------------------------------------------------------


def scrape_metrics(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _one(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(v for _, v in metrics.get(name, []))


def _quantiles(
    metrics: dict[str, list[tuple[dict[str, str], float]]], name: str
) -> dict[str, float]:
    return {labels["quantile"]: v for labels, v in metrics.get(name, []) if "quantile" in labels}


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class RunResult:
    name: str
    groups: int = 0
    rules: int = 0
    measured_s: float = 0.0
    cpu_s: float = 0.0
    rss_mib: float = 0.0
    cycles: list[float] = field(default_factory=list)  # sum over groups, per evaluation cycle
    group_durations: list[float] = field(default_factory=list)
    rule_eval_q: dict[str, float] = field(default_factory=dict)
    group_q: dict[str, float] = field(default_factory=dict)
    head_series: int = 0
    failures: float = 0.0
    missed: float = 0.0
    alerts_firing: int = 0
    group_seconds: float = 0.0  # delta of prometheus_rule_group_duration_seconds_sum
    by_rule: dict[str, float] = field(default_factory=dict)  # last evaluationTime, summed


def measure(prom: Prometheus, name: str, interval: int, minutes: float) -> RunResult:
    result = RunResult(name)
    log(f"  {name}: waiting for the first (cold) evaluation of every group")
    deadline = time.monotonic() + 10 * interval
    while time.monotonic() < deadline:
        m = scrape_metrics(prom.url)
        stamps = [
            v
            for lb, v in m.get("prometheus_rule_group_last_evaluation_timestamp_seconds", [])
            if not lb["rule_group"].endswith(SLOW_GROUPS)
        ]
        if all(v > 0 for v in stamps):
            break
        time.sleep(2)
    time.sleep(interval + 2)
    log(f"  {name}: measuring for {minutes:g} min")
    seen: dict[str, list[tuple[float, float]]] = {}
    t0, cpu0 = time.monotonic(), process_cpu(prom.proc.pid)
    sum0 = _one(scrape_metrics(prom.url), "prometheus_rule_group_duration_seconds_sum")
    wall0 = time.time()
    while time.monotonic() - t0 < minutes * 60:
        m = scrape_metrics(prom.url)
        last = {
            lb["rule_group"]: v
            for lb, v in m.get("prometheus_rule_group_last_duration_seconds", [])
        }
        for labels, stamp in m.get("prometheus_rule_group_last_evaluation_timestamp_seconds", []):
            group = labels["rule_group"]
            if group.endswith(SLOW_GROUPS):
                continue
            evals = seen.setdefault(group, [])
            if stamp >= wall0 and (not evals or evals[-1][0] != stamp):
                evals.append((stamp, last[group]))
        time.sleep(5)
    result.measured_s = time.monotonic() - t0
    result.cpu_s = process_cpu(prom.proc.pid) - cpu0
    m = scrape_metrics(prom.url)
    result.rss_mib = _one(m, "process_resident_memory_bytes") / 2**20
    result.group_seconds = _one(m, "prometheus_rule_group_duration_seconds_sum") - sum0
    result.by_rule = rule_breakdown(prom)
    result.groups = len(m.get("prometheus_rule_group_rules", []))
    result.rules = int(_one(m, "prometheus_rule_group_rules"))
    result.rule_eval_q = _quantiles(m, "prometheus_rule_evaluation_duration_seconds")
    result.group_q = _quantiles(m, "prometheus_rule_group_duration_seconds")
    result.failures = _one(m, "prometheus_rule_evaluation_failures_total")
    result.missed = _one(m, "prometheus_rule_group_iterations_missed_total")
    result.head_series = int(_one(m, "prometheus_tsdb_head_series"))
    if seen:
        n = min(len(v) for v in seen.values())
        result.cycles = [sum(v[k][1] for v in seen.values()) for k in range(n)]
        result.group_durations = [d for v in seen.values() for _, d in v]
    firing = prom.query('count(ALERTS{alertstate="firing"})')
    result.alerts_firing = int(float(firing[0]["value"][1])) if firing else 0
    return result


def rule_breakdown(prom: Prometheus) -> dict[str, float]:
    """Each rule's last evaluation time (``/api/v1/rules``), summed over SLOs by rule name."""
    groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=60).json()["data"]["groups"]
    out: dict[str, float] = {}
    for group in groups:
        for rule in group["rules"]:
            name = rule["name"]
            if rule["type"] == "alerting":
                labels = rule.get("labels", {})
                name = f"alert ({labels.get('sloth_severity') or labels.get('sloplane_severity')})"
            out[name] = out.get(name, 0.0) + float(rule.get("evaluationTime", 0.0))
    return out


def run_config(rule_glob: str | None, target: str, interval: int) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": f"{interval}s", "evaluation_interval": f"{interval}s"},
        "rule_files": [rule_glob] if rule_glob else [],
        "scrape_configs": [
            {
                "job_name": "bench",
                "static_configs": [{"targets": [target]}],
                "metric_relabel_configs": [{"action": "labeldrop", "regex": "job|instance"}],
            }
        ],
    }


def run(
    name: str,
    pristine: Path,
    rules: Path | None,
    target: str,
    interval: int,
    minutes: float,
    after: Any = None,
) -> RunResult:
    """One Prometheus on a fresh copy of the backfilled TSDB; ``after(prom)`` runs post-measure."""
    data = WORK / f"run-{name}"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(pristine, data)
    glob = str(rules / "*.yml") if rules else None
    try:
        with run_prometheus(run_config(glob, target, interval), data_dir=data) as prom:
            result = measure(prom, name, interval, minutes)
            if after is not None:
                after(prom)
            return result
    finally:
        shutil.rmtree(data, ignore_errors=True)


# -- exactness ---------------------------------------------------------------------------


@dataclass
class Exactness:
    ours: dict[str, float] = field(default_factory=dict)
    sloth: dict[str, float] = field(default_factory=dict)
    pyrra: dict[str, float] = field(default_factory=dict)
    recorded_checks: list[float] = field(default_factory=list)  # relative differences


def _value(prom: Prometheus, expr: str, at: float) -> float | None:
    result = prom.query(expr, at)
    return float(result[0]["value"][1]) if result else None


def check_exactness(
    prom: Prometheus,
    data: Dataset,
    ours: dict[str, dict[str, dict[str, Any]]],
    sloth_period: dict[str, str],
    sloth_5m: dict[str, str],
    pyrra_period: dict[str, str],
) -> Exactness:
    """Both 30d expressions at the end of the backfill; and backfilled 5m series vs Prometheus."""
    out = Exactness()
    for slo_id in data.truth:
        ours_v = _value(prom, ours[slo_id]["slo:sli_error:ratio_rate30d"]["expr"], data.end)
        sloth_v = _value(prom, sloth_period[slo_id], data.end)
        if ours_v is not None:
            out.ours[slo_id] = ours_v
        if sloth_v is not None:
            out.sloth[slo_id] = sloth_v
        pyrra_v = _value(prom, pyrra_period[slo_id], data.end)
        if pyrra_v is not None:
            out.pyrra[slo_id] = pyrra_v
    # the backfilled 5m series against Prometheus evaluating the rules' own expressions
    for slo_id in list(data.truth)[:5]:
        for days_back in (1, 7, 29):
            at = data.end - days_back * 86400 + 3 * data.step
            pairs = [
                (ours[slo_id][r]["expr"], f"{r}{{sloplane_id={slo_id!r}}}")
                for r in (ERRORS_RATE, TOTAL_RATE)
            ]
            pairs.append((sloth_5m[slo_id], f"slo:sli_error:ratio_rate5m{{sloth_id={slo_id!r}}}"))
            for expr, stored in pairs:
                want, got = _value(prom, expr, at), _value(prom, stored.replace("'", '"'), at)
                if want is not None and got is not None:
                    out.recorded_checks.append(abs(got - want) / max(abs(want), 1e-12))
    return out


# -- report ------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _pct(values: list[float], q: float) -> float:
    return float(np.quantile(values, q)) if values else math.nan


def report(
    args: argparse.Namespace,
    data: Dataset,
    setup: dict[str, float],
    runs: list[RunResult],
    exact: Exactness,
) -> str:
    base = next((r for r in runs if r.name == "baseline"), None)
    base_cpu = base.cpu_s / base.measured_s * 60 if base else 0.0
    lines = [
        f"{args.slos} SLOs (events, 30d, objectives 99/99.5/99.9/99.95), {5 * args.slos} counter "
        f"series, {args.days} days at {data.step}s steps: {data.samples / 1e6:.1f}M samples "
        f"backfilled ({setup['om_bytes'] / 2**30:.2f} GiB OpenMetrics written in "
        f"{setup['generate_s']:.0f} s, `promtool tsdb create-blocks-from openmetrics` "
        f"{setup['backfill_s']:.0f} s, TSDB {setup['tsdb_bytes'] / 2**20:.0f} MiB). "
        f"Evaluation and scrape interval {args.interval}s; each run measured "
        f"{args.minutes:g} min after the first evaluation of every group plus one interval.",
        "",
        "| rule set | groups | rules | series written (head series minus baseline) | rule-group wall s per minute (summary _sum) | rule-group time per cycle, sum over groups (p50 / max) "
        "| one group (p50 / max) | rule eval p50 / p99 (summary) | CPU s per minute (minus baseline) | RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        cpu_min = r.cpu_s / r.measured_s * 60
        extra = f" ({cpu_min - base_cpu:+.2f})" if base and r is not base else ""
        cyc = f"{_ms(statistics.median(r.cycles))} / {_ms(max(r.cycles))}" if r.cycles else "-"
        grp = (
            f"{_ms(_pct(r.group_durations, 0.5))} / {_ms(max(r.group_durations))}"
            if r.group_durations
            else "-"
        )
        q = r.rule_eval_q
        rq = f"{_ms(q.get('0.5', math.nan))} / {_ms(q.get('0.99', math.nan))}" if q else "-"
        written = f"{r.head_series - base.head_series:,}" if base else "-"
        lines.append(
            f"| {r.name} | {r.groups} | {r.rules} | {written} | {r.group_seconds / r.measured_s * 60:.2f} | {cyc} ({len(r.cycles)} cycles) "
            f"| {grp} | {rq} | {cpu_min:.2f}{extra} | {r.rss_mib:.0f} MiB |"
        )
    lines.append("")
    for r in runs:
        if r.failures or r.missed:
            lines.append(
                f"- {r.name}: {r.failures:g} rule evaluation failures, {r.missed:g} missed iterations"
            )
        if r.name != "baseline":
            lines.append(
                f"- {r.name}: head series {r.head_series}, firing alerts {r.alerts_firing}, "
                f"group duration summary p50 {_ms(r.group_q.get('0.5', math.nan))}, "
                f"p99 {_ms(r.group_q.get('0.99', math.nan))}"
            )
    lines.append("")
    lines += breakdown_lines(runs)
    lines.append("")
    lines += exactness_lines(data, exact)
    return "\n".join(lines)


def breakdown_lines(runs: list[RunResult]) -> list[str]:
    """Where the evaluation time goes: each rule's last evaluation, summed over SLOs."""
    lines = []
    for r in runs:
        total = sum(r.by_rule.values())
        if not total:
            continue
        top = sorted(r.by_rule.items(), key=lambda kv: -kv[1])
        parts = ", ".join(f"`{k}` {v * 1000:.0f} ms ({v / total:.0%})" for k, v in top[:8])
        lines.append(
            f"- {r.name}, last evaluation of every rule, {total * 1000:.0f} ms in all: {parts}"
        )
    return lines


def exactness_lines(data: Dataset, exact: Exactness) -> list[str]:
    lines = [
        "| 30d error ratio vs truth | SLOs | median rel. error | max rel. error | mean signed rel. error |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in (("sloplane", exact.ours), ("Sloth", exact.sloth), ("Pyrra", exact.pyrra)):
        rel = [(values[s] - data.truth[s]) / data.truth[s] for s in values]
        if not rel:
            continue
        absrel = [abs(x) for x in rel]
        lines.append(
            f"| {name} | {len(rel)} | {statistics.median(absrel):.3%} | {max(absrel):.3%} "
            f"| {statistics.mean(rel):+.3%} |"
        )
    if exact.recorded_checks:
        lines.append("")
        lines.append(
            f"Backfilled 5m series vs Prometheus evaluating the rules' own expressions at "
            f"{len(exact.recorded_checks)} (series, time) points: max relative difference "
            f"{max(exact.recorded_checks):.2e}."
        )
    example = next(iter(exact.ours), None)
    if example:
        lines.append(
            f"Example {example}: true {data.truth[example]:.6f}, sloplane "
            f"{exact.ours[example]:.6f}, Sloth {exact.sloth.get(example, math.nan):.6f}, "
            f"Pyrra {exact.pyrra.get(example, math.nan):.6f}."
        )
    return lines


# -- main --------------------------------------------------------------------------------


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step", type=int, default=60, help="backfill resolution, seconds")
    parser.add_argument("--interval", type=int, default=60, help="scrape/evaluation interval")
    parser.add_argument("--minutes", type=float, default=3.0, help="measured minutes per run")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--keep", action="store_true", help="keep benchmarks/.work/rules_evaluation"
    )
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument(
        "--shapes",
        nargs="+",
        default=["sloplane", "sloth", "pyrra", "sloplane-shared"],
        help="rule sets to run (sloplane-shared: a prototype layout, see write_shared_rules)",
    )
    args = parser.parse_args()
    if 300 % args.step:
        parser.error("--step must divide 300")

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    try:
        text = _main(args)
    finally:
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def _main(args: argparse.Namespace) -> str:
    slos = make_slos(args.slos)
    ours = write_our_rules(slos, WORK / "rules-sloplane")
    write_shared_rules(WORK / "rules-sloplane", WORK / "rules-sloplane-shared")
    sloth_period = write_sloth_rules(slos, WORK / "rules-sloth")
    pyrra_period = write_pyrra_rules(slos, WORK / "rules-pyrra")
    sloth_files = {
        s.id: yaml.safe_load((WORK / "rules-sloth" / f"{s.id}.yml").read_text()) for s in slos
    }
    sloth_labels = {k: v["groups"][0]["rules"][0]["labels"] for k, v in sloth_files.items()}
    sloth_5m = {k: v["groups"][0]["rules"][0]["expr"] for k, v in sloth_files.items()}
    for rules in ("rules-sloplane", "rules-sloplane-shared", "rules-sloth", "rules-pyrra"):
        check = promtool("check", "rules", *map(str, sorted((WORK / rules).glob("*.yml"))))
        if check.returncode != 0:
            raise SystemExit(
                f"promtool check rules failed for {rules}:\n{check.stdout}{check.stderr}"
            )

    om = WORK / "input.om"
    log(f"writing {args.days}d of {args.slos} SLOs' series to {om}")
    t0 = time.perf_counter()
    data = write_openmetrics(slos, ours, sloth_labels, om, args.days, args.step, args.seed)
    setup = {"generate_s": time.perf_counter() - t0, "om_bytes": float(om.stat().st_size)}
    log(
        f"  {data.samples / 1e6:.1f}M samples, {setup['om_bytes'] / 2**30:.2f} GiB in {setup['generate_s']:.0f} s"
    )
    pristine = WORK / "tsdb"
    log("backfilling with promtool tsdb create-blocks-from openmetrics")
    t0 = time.perf_counter()
    result = promtool(
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        "--max-block-duration=1458h",
        str(om),
        str(pristine),
        timeout=3600,
    )
    setup["backfill_s"] = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"backfill failed: {result.stderr[-2000:]}")
    om.unlink()
    setup["tsdb_bytes"] = float(_dir_bytes(pristine))
    log(f"  backfill took {setup['backfill_s']:.0f} s")

    runs: list[RunResult] = []
    exact = Exactness()

    def after_baseline(prom: Prometheus) -> None:
        nonlocal exact
        log("  checking 30d ratios against the truth")
        exact = check_exactness(prom, data, ours, sloth_period, sloth_5m, pyrra_period)

    with CounterServer(data) as server:
        target = f"127.0.0.1:{server.port}"
        if not args.no_baseline:
            log("run: baseline (no rules)")
            runs.append(
                run(
                    "baseline",
                    pristine,
                    None,
                    target,
                    args.interval,
                    min(args.minutes, 2),
                    after_baseline,
                )
            )
        for name in args.shapes:
            log(f"run: {name}")
            rule_dir = WORK / f"rules-{name}"
            after = after_baseline if args.no_baseline and name == "sloplane" else None
            runs.append(run(name, pristine, rule_dir, target, args.interval, args.minutes, after))
    return report(args, data, setup, runs, exact)


if __name__ == "__main__":
    main()
