"""``sloplane backfill`` against a real Prometheus with 30 days of raw traffic.

The raw counters (5-minute scrapes) have uneven days and nights, a counter reset and a
two-hour scrape gap; they go on live afterwards. The rules have "run for 20 minutes"
(their tier for the last 20 minutes is backfilled first, the way the rules would have
recorded it). Then the 30d ratio covers 20 minutes and the period budget is not stated;
after ``sloplane backfill`` of the past window it is within 0.5% of the truth.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sloplane.artifacts import GenerateSettings
from sloplane.backfill.cli import backfill
from sloplane.slo import SLO, Catalog, EventsSLI
from sloplane.slo.rules import compile_rules
from tests.support.live_counters import drop_target_labels, live_counters
from tests.support.processes import (
    Prometheus,
    backfill_openmetrics,
    prometheus_config,
    run_prometheus,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SLO_PY = """
from sloplane.slo import SLO, EventsSLI

SLOS = [
    SLO(
        service="shop",
        name="availability",
        objective=99.5,
        window="30d",
        sli=EventsSLI(
            errors='http_requests_total{code="500"}', total="http_requests_total"
        ),
    )
]
"""
SLO_DEF = SLO(
    service="shop",
    name="availability",
    objective=99.5,
    window="30d",
    sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
)
STEP = 300
NOW = int(time.time()) // STEP * STEP
START = NOW - 31 * 86400
RESET_AT = NOW - 10 * 86400
GAP = (NOW - 20 * 86400, NOW - 20 * 86400 + 7200)


def _per_step(t: int) -> tuple[float, float]:
    """Requests and errors in the 5 minutes before ``t``: busy days, quiet error-prone nights."""
    hour = t % 86400 / 3600
    if 7 <= hour < 22:
        return 5000.0, 5.0  # 0.1% errors
    return 500.0, 10.0  # 2% errors


def _counters(at: float) -> dict[str, float]:
    """Both counters at ``at`` (reset to 0 at RESET_AT), linear within a step."""
    base = RESET_AT if at >= RESET_AT else START
    total = errors = 0.0
    t = base
    while t + STEP <= at:
        n, e = _per_step(t + STEP)
        total, errors = total + n, errors + e
        t += STEP
    n, e = _per_step(t + STEP)
    frac = (at - t) / STEP
    total, errors = total + n * frac, errors + e * frac
    return {
        'http_requests_total{code="500"}': round(errors, 3),
        'http_requests_total{code="200"}': round(total - errors, 3),
    }


def _raw_history() -> str:
    lines = ["# TYPE http_requests counter"]
    err = ok = 0.0
    for t in range(START, NOW + STEP, STEP):
        if t == RESET_AT:
            err = ok = 0.0
        n, e = _per_step(t)
        err, ok = err + e, ok + n - e
        if GAP[0] <= t < GAP[1]:
            continue  # scraped nothing, the counters went on
        lines.append(f'http_requests_total{{code="500"}} {err} {t}')
        lines.append(f'http_requests_total{{code="200"}} {ok} {t}')
    return "\n".join(lines) + "\n"


def _truth(end: float) -> float:
    """Errors over requests in the 30 days before ``end``, from the traffic itself."""
    errors = total = 0.0
    for t in range(int(end - 30 * 86400) // STEP * STEP + STEP, int(end) + 1, STEP):
        n, e = _per_step(t)
        errors, total = errors + e, total + n
    return errors / total


def _backfill(slos: Path, prom: Prometheus, out: Path, start: int, end: int) -> None:
    result = CliRunner().invoke(
        backfill,
        [
            "--slos",
            str(slos),
            "--prometheus-url",
            prom.url,
            "--out",
            str(out),
            "--start",
            str(start),
            "--end",
            str(end),
        ],
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    assert "shop-availability" in result.output or "wrote" in result.output
    for block in out.iterdir():
        if block.is_dir():
            shutil.move(str(block), prom.data_dir / block.name)


def _wait(prom: Prometheus, query: str, ok: object, timeout: float = 200) -> list[dict]:
    deadline = time.monotonic() + timeout
    result: list[dict] = []
    while time.monotonic() < deadline:
        result = prom.query(query)
        if result and ok(float(result[0]["value"][1])):  # type: ignore[operator]
            return result
        time.sleep(3)
    raise AssertionError(f"{query}: {result} after {timeout}s\n{prom.log()[-1500:]}")


def test_backfill_makes_the_30d_ratio_exact(tmp_path: Path) -> None:
    slos = tmp_path / "slos.py"
    slos.write_text(SLO_PY)
    groups = yaml.safe_load(
        compile_rules(Catalog.of([SLO_DEF]), GenerateSettings(unit_tests=False))[
            "prometheus/shop-availability.rules.yml"
        ]
    )
    for group in groups["groups"]:  # the long group every minute: a shorter test
        if group["name"].endswith("-long"):
            group["interval"] = "1m"
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(groups))
    backfill_openmetrics(_raw_history(), tmp_path / "data", block_duration="744h")
    with live_counters(_counters) as target:
        config = prometheus_config(
            [target], rule_files=[rules], scrape_interval="15s", evaluation_interval="15s"
        )
        with run_prometheus(drop_target_labels(config), data_dir=tmp_path / "data") as prom:
            # the rules "have run for 20 minutes": their tier for that time is backfilled
            _backfill(slos, prom, tmp_path / "recent", NOW - 1200, int(time.time()))
            _wait(prom, "slo:sli_coverage:ratio30d", lambda v: v > 0)
            (before,) = prom.query("slo:sli_error:ratio_rate30d")
            coverage = float(prom.query("slo:sli_coverage:ratio30d")[0]["value"][1])
            assert coverage < 0.01
            assert not prom.query("slo:period_error_budget_remaining:ratio")
            # now the past window
            _backfill(slos, prom, tmp_path / "past", NOW - 31 * 86400, NOW - 1200)
            _wait(prom, "slo:sli_coverage:ratio30d", lambda v: v >= 0.99)
            (after,) = _wait(prom, "slo:period_error_budget_remaining:ratio", lambda v: True)
            (ratio,) = prom.query("slo:sli_error:ratio_rate30d")
            at, value = float(ratio["value"][0]), float(ratio["value"][1])
            truth = _truth(at)
            print(
                f"30d error ratio: truth {truth:.6f}; before backfill {before['value'][1]} "
                f"(coverage {coverage:.5f}); after {value:.6f} "
                f"({(value - truth) / truth:+.3%}); budget remaining {after['value'][1]}"
            )
            assert value == pytest.approx(truth, rel=0.005)
            assert float(after["value"][1]) == pytest.approx(1 - truth / 0.005, abs=0.01)
