"""Weekly reports against the backfilled Prometheus: numbers by hand, formats, idempotency."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sloplane.clients.prometheus import AsyncPrometheusClient
from sloplane.database import open_database
from sloplane.reports import store
from sloplane.reports.collect import build_report
from sloplane.reports.deliver import Delivery
from sloplane.reports.model import Report
from sloplane.reports.render import render_all
from sloplane.reports.runner import run_report
from sloplane.reports.scheduler import Schedule, due_week
from sloplane.reports.weeks import week_bounds
from tests.api.conftest import prom  # noqa: F401  (session fixture shared with tests/api)
from tests.api.dataset import ALERT_END, ALERT_START, CATALOG, DATA_START, W46_END, W46_START
from tests.support.processes import Prometheus

REL = 1e-3
WEEK_EVENTS = 10 * 7 * 86400


def _build(url: str, week: str = "2026-W46", scope: str = "all") -> Report:
    async def go() -> Report:
        client = AsyncPrometheusClient(url)
        try:
            return await build_report(CATALOG, client, week, scope)
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def report(prom: Prometheus) -> Report:  # noqa: F811
    return _build(prom.url)


@pytest.mark.integration
def test_checkout_week_numbers_by_hand(report: Report) -> None:
    s = next(x for x in report.slos if x.id == "checkout-availability")
    assert s.source == "recording_rules"
    week_ratio = (7200 + 10368) / WEEK_EVENTS  # 0.29%
    assert 1 - s.week_sli == pytest.approx(week_ratio, rel=REL)
    assert s.week_met is True
    window_ratio = (8640 + 7200 + 10368) / (2 * WEEK_EVENTS)
    assert 1 - s.window_sli == pytest.approx(window_ratio, rel=REL)
    assert s.budget_consumed_week_ratio == pytest.approx(week_ratio / 0.01 * 7 / 30, rel=REL)
    assert s.budget_remaining_ratio == pytest.approx(1 - window_ratio / 0.01, rel=REL)
    assert s.budget_remaining_minutes == pytest.approx((1 - window_ratio / 0.01) * 432, rel=REL)
    # Friday 0.12/s of 10/s = 1.2% errors: SLI 98.8%, the worst day and a missed one
    assert s.worst_day is not None and s.worst_day.date == "2026-11-13"
    assert s.worst_day.sli == pytest.approx(0.988, rel=REL) and s.worst_day.met is False
    days = {d.date: d.sli for d in s.days}
    assert days["2026-11-10"] == pytest.approx(1 - 7200 / 864000, rel=REL)
    assert days["2026-11-09"] == 1.0
    assert [(i.severity, i.start, i.end, i.duration_seconds) for i in s.incidents] == [
        ("page", ALERT_START, ALERT_END, 58 * 60)
    ]
    assert 1 - s.previous_week_sli == pytest.approx(8640 / WEEK_EVENTS, rel=REL)
    assert s.trend == "worse"
    assert s.burn_down[0].t == W46_START and s.burn_down[-1].t == W46_END


@pytest.mark.integration
def test_fallback_slo_in_report(report: Report) -> None:
    s = next(x for x in report.slos if x.id == "search-availability")
    assert s.source == "source_query"
    assert 1 - s.week_sli == pytest.approx(0.04 / 5, rel=REL)
    assert 1 - s.window_sli == pytest.approx(
        0.04 * 7 * 86400 / (5 * (W46_END - DATA_START)), rel=REL
    )
    assert s.previous_week_sli == 1.0 and s.trend == "worse" and s.incidents == []


@pytest.mark.integration
def test_scope_by_team(prom: Prometheus) -> None:  # noqa: F811
    assert [s.id for s in _build(prom.url, scope="team:discovery").slos] == ["search-availability"]


@pytest.mark.integration
def test_rendering_is_deterministic_and_complete(report: Report) -> None:
    first, second = render_all(report), render_all(report)
    assert first == second
    data = json.loads(first["json"])
    assert data["week"] == "2026-W46" and len(data["slos"]) == 2
    assert "| checkout-availability | 99.000% | 99.710% | met |" in first["md"]
    assert "2026-11-13" in first["md"] and "MISSED" in first["md"]
    assert first["html"].count("<svg") == 4 and "SLO report 2026-W46" in first["html"]


@pytest.mark.integration
def test_html_renders_in_chromium(report: Report, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_all(report)["html"])
    shot = tmp_path / "report.png"
    pdf = tmp_path / "report.pdf"
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1200,1800", page.as_uri()],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*base, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri()],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    assert shot.stat().st_size > 20_000 and pdf.read_bytes().startswith(b"%PDF")
    keep = Path("/tmp/sloplane-report-screenshot.png")
    shutil.copy(shot, keep)  # for a human look


@pytest.mark.integration
def test_rerun_replaces_never_duplicates(prom: Prometheus, tmp_path: Path) -> None:  # noqa: F811
    sessions = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")

    async def go() -> None:
        client = AsyncPrometheusClient(prom.url)
        try:
            for _ in range(2):
                await run_report(
                    CATALOG,
                    client,
                    "2026-W46",
                    "all",
                    "UTC",
                    sessions,
                    Delivery(out_dir=tmp_path / "out"),
                )
        finally:
            await client.aclose()

    asyncio.run(go())
    assert [(r.scope, r.week) for r in store.list_snapshots(sessions)] == [("all", "2026-W46")]
    assert [r.status for r in store.list_runs(sessions)] == ["succeeded", "succeeded"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"slo-report-2026-W46-all.{ext}" for ext in ("html", "json", "md")
    ]


@pytest.fixture()
def slack() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_cli_report_writes_files_and_posts_to_slack(
    prom: Prometheus,  # noqa: F811
    tmp_path: Path,
    slack: tuple[str, list[dict]],
) -> None:
    from sloplane.reports.cli import report as report_cmd

    slos = tmp_path / "slos.yaml"
    slos.write_text(
        "\n---\n".join(
            json.dumps(
                {
                    "apiVersion": "sloplane/v1",
                    "kind": "SLO",
                    "spec": s.model_dump(mode="json", by_alias=True, exclude_none=True),
                }
            )
            for s in CATALOG.slos
        )
    )
    url, received = slack
    args = [
        "--slos",
        str(slos),
        "--prometheus-url",
        prom.url,
        "--week",
        "2026-W46",
        "--out",
        str(tmp_path / "out"),
    ]
    result = CliRunner().invoke(
        report_cmd,
        [*args, "--scope", "teams", "--slack-webhook", url, "--link-base", "http://slo.example"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[:3] == [
        f"slo-report-2026-W46-team-discovery.{ext}" for ext in ("html", "json", "md")
    ]
    assert len(received) == 2
    text = received[1]["text"]
    assert "SLO report 2026-W46 (team:payments): 1 met, 0 missed, 0 without data" in text
    assert "http://slo.example/api/v1/reports/team:payments/2026-W46?format=html" in text


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_due_week_is_the_last_finished_week_at_the_last_firing(moment: datetime) -> None:
    now = moment.replace(tzinfo=UTC)
    week = due_week(now, Schedule())
    _start, end = week_bounds(week)
    # the week ended before now, and the firing that covers it (Monday 09:00 after it) has passed
    assert end <= now
    assert end + timedelta(hours=9) <= now < end + timedelta(days=7, hours=9)
