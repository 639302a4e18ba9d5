"""Issue 13's proof, "one instant, one number": rules loaded 20 minutes ago on 30 days of history.

The raw counters (30 days and a few hours, busier and better by day, a counter reset and
an hour-long scrape gap) are backfilled as TSDB blocks (``promtool tsdb create-blocks-from
openmetrics``) and continue live; the generated rules, the roll-up tier and its coverage
series included, "have run" for the last 20 minutes: their tier for that time is written
with ``sloplane backfill`` before Prometheus starts (without it the first 30d ratio
appears 10 to 13 minutes after the rules load; the long group runs every 15s here). Their recorded 30d window then holds
minutes of a bad hour, so it reads "breached" (checked below: that is what the API used
to show).

At one instant, the API status, the weekly report's window figure (at the report's own
instant, the week's end) and the generated dashboard's SLI and budget panels (their
PromQL taken from the dashboard JSON, variables as Grafana substitutes them on a fresh
dashboard, sent to the same Prometheus) agree within 1e-6, and are within 0.5% of the
true ratio computed from the generated events. Twice, on one Prometheus:

* before ``sloplane backfill`` for the whole window: the coverage is short, so all three
  answer from the source queries over the whole window;
* after it (its blocks moved into the running Prometheus' data directory): the coverage is
  complete and the API and the dashboard answer from the recorded series.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sloplane.artifacts import GenerateSettings
from sloplane.backfill.cli import backfill
from sloplane.reports.weeks import week_bounds, week_of
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import parse_duration
from sloplane.slo.model import SLO, EventsSLI
from sloplane.slo.naming import INFO, ROLLUP_GROUP_INTERVAL
from sloplane.slo.rules import compile_rules
from tests.api.conftest import ADMIN, api
from tests.support.dashboard_queries import (
    BUDGET_PANEL,
    SLI_PANEL,
    slo_panel_queries,
    summary_queries,
)
from tests.support.live_counters import drop_target_labels, live_counters
from tests.support.processes import (
    Prometheus,
    backfill_openmetrics,
    prometheus_config,
    run_prometheus,
)
from tests.support.recent_tier import record_recent_tier

pytestmark = pytest.mark.integration

SHOP = SLO(
    service="shop",
    name="availability",
    objective=99,
    sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
)
SHOP_PY = """
from sloplane.slo import SLO, EventsSLI

SLOS = [
    SLO(
        service="shop",
        name="availability",
        objective=99,
        sli=EventsSLI(errors='http_requests_total{code="500"}', total="http_requests_total"),
    )
]
"""
CATALOG = Catalog.of([SHOP])
WINDOW = SHOP.window
RULES_RAN = 1200  # seconds the rules "have run" before the test's Prometheus starts
AGREE = 1e-6  # API, report and dashboard at one instant
TRUE = 0.005  # each of them against the true ratio (relative)


@dataclass(frozen=True)
class Traffic:
    """Requests and errors per minute from ``start``, as cumulative event counts.

    Day (08:00 to 20:00 UTC) has 1500 requests a minute at 0.2% errors, night 300 at 0.8%,
    the last two hours before ``now`` 5%. The exposed counters restart from zero at
    ``reset`` (a process restart) and are not scraped during ``gap`` (the history has no
    samples there; the counters go on counting). The truth is the events themselves.
    """

    now: int
    total: list[int]
    errors: list[int]

    @classmethod
    def build(cls, now: int) -> Traffic:
        start = now - WINDOW - 3 * 3600
        total, errors = [0], [0]
        for t in range(start, now + 3600, 60):
            day = 8 <= (t // 3600) % 24 < 20
            requests = 1500 if day else 300
            ratio = 0.05 if t >= now - 2 * 3600 else (0.002 if day else 0.008)
            total.append(total[-1] + requests)
            errors.append(errors[-1] + round(requests * ratio))
        return cls(now, total, errors)

    @property
    def start(self) -> int:
        return self.now - WINDOW - 3 * 3600

    @property
    def reset(self) -> int:
        return (self.now - 12 * 86400) // 86400 * 86400 + 10 * 3600  # 10:00, 12 days ago

    @property
    def gap(self) -> tuple[int, int]:
        begin = (self.now - 8 * 86400) // 86400 * 86400 + 2 * 3600  # 02:00, 8 days ago
        return begin, begin + 3600

    def index(self, at: float) -> int:
        return max(0, min(len(self.total) - 1, int(at - self.start) // 60))

    def counters(self, at: float) -> dict[str, float]:
        i = self.index(at)
        base = self.index(self.reset) if at >= self.reset else 0
        errors = self.errors[i] - self.errors[base]
        return {
            'http_requests_total{code="500"}': errors,
            'http_requests_total{code="200"}': self.total[i] - self.total[base] - errors,
        }

    def history(self, until: int) -> str:
        lines = ["# TYPE http_requests counter"]
        for t in range(self.start, until + 1, 60):
            if self.gap[0] <= t < self.gap[1]:
                continue
            for series, value in self.counters(t).items():
                lines.append(f"{series} {value} {t}")
        return "\n".join(lines) + "\n"

    def true_ratio(self, at: float) -> float:
        """Errors over requests in the SLO window before ``at``."""
        i, j = self.index(at - WINDOW), self.index(at)
        return (self.errors[j] - self.errors[i]) / (self.total[j] - self.total[i])


@pytest.mark.timeout(900)
def test_api_report_and_dashboard_show_one_number_before_and_after_backfill(
    tmp_path: Path,
) -> None:
    now = int(time.time()) // 60 * 60
    traffic = Traffic.build(now)
    rules = tmp_path / "rules.yml"
    rules.write_text(_rules_evaluated_often())
    data = tmp_path / "data"
    last = now - 120  # the last backfilled raw sample
    # week-long blocks: promtool writes 2h blocks by default, 360 of them take minutes
    backfill_openmetrics(traffic.history(last), data, block_duration="168h")
    record_recent_tier(SHOP_PY, data, last - RULES_RAN, last)
    panels = slo_panel_queries(CATALOG, SHOP)
    dashboard = {
        "sli": panels[SLI_PANEL.format(window="30d")],
        "budget": panels[BUDGET_PANEL],
        "history": summary_queries(CATALOG, SHOP.service)["history"],
    }
    with live_counters(traffic.counters) as target:
        config = prometheus_config(
            [target], rule_files=[rules], scrape_interval="15s", evaluation_interval="15s"
        )
        with run_prometheus(drop_target_labels(config), data_dir=data) as prom:
            _check_history_has_a_reset_and_a_gap(prom, traffic)
            # before: 20 minutes of recorded history
            coverage, at = _wait_for_window(prom, lambda c: c > 0)
            assert 0 < coverage < 0.01
            # what the recorded window alone says: minutes of the bad hours, "breached"
            (recorded,) = prom.query("slo:sli_error:ratio_rate30d")
            assert float(recorded["value"][1]) > SHOP.error_budget
            _check_one_number(prom, traffic, dashboard, at, tmp_path / "before.db", "source_query")
            # after: the whole window backfilled, loaded by the running Prometheus
            _backfill(prom, traffic.start, last - RULES_RAN, tmp_path / "blocks")
            coverage, at = _wait_for_window(prom, lambda c: c >= 0.99)
            assert coverage <= 1
            _check_one_number(
                prom, traffic, dashboard, at, tmp_path / "after.db", "recording_rules"
            )


def _check_history_has_a_reset_and_a_gap(prom: Prometheus, traffic: Traffic) -> None:
    """The raw data the three answers read holds what the proof says it does."""
    (resets,) = prom.query(f"sum(resets(http_requests_total[{WINDOW}s]))")
    assert float(resets["value"][1]) == 2  # both counters, once
    begin, end = traffic.gap
    assert not prom.query("count_over_time(http_requests_total[59m])", end - 1)
    (before,) = prom.query('count_over_time(http_requests_total{code="200"}[1h])', begin)
    assert float(before["value"][1]) >= 59  # one a minute (is the range's start included?)


def _rules_evaluated_often() -> str:
    """The generated rules, their long group evaluated every 15s instead of every few minutes.

    Only freshness changes (the long windows' pieces are read on the 5-minute grid, whatever
    the interval): the test waits seconds, not minutes, for the long group to read the
    tier before and after the backfill. The roll-up group keeps its interval.
    """
    artifacts = compile_rules(CATALOG, GenerateSettings(unit_tests=False))
    doc = yaml.safe_load(artifacts["prometheus/shop-availability.rules.yml"])
    for group in doc["groups"]:
        if "interval" in group and parse_duration(group["interval"]) < ROLLUP_GROUP_INTERVAL:
            group["interval"] = "15s"
    return yaml.safe_dump(doc, sort_keys=False)


def _wait_for_window(prom: Prometheus, done: Callable[[float], bool]) -> tuple[float, float]:
    """The SLO window's coverage and an instant to read it at, once ``done(coverage)`` holds
    and the recorded 30d ratio was evaluated no earlier than that coverage (it reads the same
    blocks). The instant is the coverage sample's time, or the info series' latest (the
    summary table joins on it; its group may not have run before)."""
    deadline = time.monotonic() + 420
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = prom.query("slo:sli_coverage:ratio30d")
        if found and done(float(found[0]["value"][1])):
            covered_at = prom.query("timestamp(slo:sli_coverage:ratio30d)")
            ratio_at = prom.query("timestamp(slo:sli_error:ratio_rate30d)")
            stamp = float(covered_at[0]["value"][1])
            info_at = prom.query(f"timestamp({INFO})")
            if info_at and ratio_at and float(ratio_at[0]["value"][1]) >= stamp:
                return float(found[0]["value"][1]), max(stamp, float(info_at[0]["value"][1]))
        time.sleep(3)
    raise AssertionError(f"the 30d window never got there: {found} " + prom.log()[-2000:])


def _backfill(prom: Prometheus, start: int, end: int, out: Path) -> None:
    slos = out.parent / "slos.py"
    slos.write_text(SHOP_PY)
    args = ["--slos", str(slos), "--prometheus-url", prom.url, "--out", str(out)]
    result = CliRunner().invoke(backfill, [*args, "--start", str(start), "--end", str(end)])
    assert result.exit_code == 0, result.output + str(result.exception)
    blocks = [b for b in out.iterdir() if b.is_dir()]
    assert blocks, result.output
    for block in blocks:  # Prometheus loads new blocks within a minute
        shutil.move(str(block), prom.data_dir / block.name)


def _check_one_number(
    prom: Prometheus,
    traffic: Traffic,
    dashboard: dict[str, str],
    covered_at: float,
    db: Path,
    source: str,
) -> None:
    # just after the coverage sample the wait saw, once no scrape or evaluation can still
    # add a sample at or before that instant (they take milliseconds)
    at = float(int(covered_at) + 1)
    while time.time() < at + 5:
        time.sleep(0.5)
    with api(prom.url, db, CATALOG, open_reads=True, cache_ttl=0) as c:
        body = c.get("/api/v1/slos/shop-availability/status", params={"at": at}).json()
        assert body["status"] != "breached", body
        assert body["source"] == source, body
        window = next(w for w in body["windows"] if w["window"] == "30d")
        assert window["source"] == source, window
        if source == "source_query":
            assert window["coverage_ratio"] < 0.01 and body["covered_seconds"] < 0.01 * WINDOW
        else:
            assert window["coverage_ratio"] >= 0.99, window
        _agree(prom, dashboard, body, at)
        # the summary table's History column is the coverage the API states
        (history,) = prom.query(dashboard["history"], at)
        assert float(history["value"][1]) == pytest.approx(window["coverage_ratio"], abs=1e-12)
        assert body["error_ratio"] == pytest.approx(traffic.true_ratio(at), rel=TRUE)
        _check_report(c, prom, traffic, dashboard)


def _agree(prom: Prometheus, dashboard: dict[str, str], status: dict, at: float) -> None:
    """The dashboard's panels at ``at`` show the API's SLI and budget left."""
    shown = {}
    for name in ("sli", "budget"):
        (sample,) = prom.query(dashboard[name], at)
        shown[name] = float(sample["value"][1])
    assert shown["sli"] == pytest.approx(status["sli"], abs=AGREE), (shown, status)
    remaining = status["error_budget"]["remaining_ratio"]
    assert shown["budget"] == pytest.approx(remaining, abs=AGREE), (shown, status)


def _check_report(c: Any, prom: Prometheus, traffic: Traffic, dashboard: dict[str, str]) -> None:
    week = week_of(datetime.now(UTC) - timedelta(days=7))
    _, end = week_bounds(week, "UTC")
    auth = {"Authorization": f"Bearer {ADMIN}"}
    made = c.post(f"/api/v1/reports/all/{week}", headers=auth)
    assert made.status_code == 200, made.text
    report = c.get(f"/api/v1/reports/all/{week}").json()
    (row,) = report["slos"]
    at = end.timestamp()
    status = c.get("/api/v1/slos/shop-availability/status", params={"at": at}).json()
    assert row["window_sli"] == pytest.approx(status["sli"], abs=AGREE), (row, status)
    _agree(prom, dashboard, status, at)
    assert 1 - row["window_sli"] == pytest.approx(traffic.true_ratio(at), rel=TRUE)
