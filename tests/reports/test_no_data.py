"""A week without data is reported as such: never counted as met, never green, charts say so."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sloplane.reports.deliver import slack_payload
from sloplane.reports.model import Report
from sloplane.reports.render import render_all
from tests.api.conftest import prom  # noqa: F401  (session fixture shared with tests/api)
from tests.reports.test_reports import _build
from tests.support.processes import Prometheus

pytestmark = pytest.mark.integration

EMPTY_WEEK = "2026-W40"  # weeks before the backfilled history: the backend has nothing
PARTLY = "2026-W47"  # only Monday has samples


@pytest.fixture(scope="module")
def empty(prom: Prometheus) -> Report:  # noqa: F811
    return _build(prom.url, EMPTY_WEEK)


@pytest.fixture(scope="module")
def partly(prom: Prometheus) -> Report:  # noqa: F811
    return _build(prom.url, PARTLY)


def test_headline_counts_three_states(empty: Report) -> None:
    assert all(s.week_met is None for s in empty.slos)
    out = render_all(empty)
    line = f"SLO report {EMPTY_WEEK} (all): 0 met, 0 missed, 2 without data this week"
    assert line in out["md"] and line in out["html"]
    assert "2/2 SLOs met" not in out["md"] and "2/2 SLOs met" not in out["html"]
    assert line in str(slack_payload(empty, None)["text"])
    assert ":white_check_mark:" not in str(slack_payload(empty, None)["text"])


def test_no_data_is_never_green(empty: Report) -> None:
    html = render_all(empty)["html"]
    assert 'class="good"' not in html
    rows = re.findall(r'<tr class="(\w+)"><td><a href="#', html)
    assert rows == ["nodata", "nodata"]
    assert "#2e7d32" not in html.split("</style>")[1]  # no green bar or fill in the charts


def test_charts_label_missing_days_and_the_week(empty: Report, partly: Report) -> None:
    html = render_all(empty)["html"]
    # per SLO: 7 grey labelled days in the SLI chart and one label on the burn-down
    assert html.count("no data") >= 2 * 8
    for day in ("Mon 28", "Tue 29", "Wed 30", "Thu 01", "Fri 02", "Sat 03", "Sun 04"):
        assert day in html
    assert "#c62828" not in html.split("</style>")[1]  # no red line or bar without data
    mixed = render_all(partly)["html"]
    assert "#2e7d32" in mixed  # Monday measured and met
    assert mixed.count("no data") >= 2 * 6  # Tuesday..Sunday grey and labelled


def _screenshot(html: str, out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = out.with_suffix(".html")
    page.write_text(html)
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={out}", "--window-size=1200,1400", page.as_uri()],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    assert out.stat().st_size > 20_000


def test_no_data_report_renders_in_chromium(empty: Report, partly: Report, tmp_path: Path) -> None:
    for name, report in (("empty", empty), ("partly", partly)):
        shot = tmp_path / f"{name}.png"
        _screenshot(render_all(report)["html"], shot)
        shutil.copy(shot, Path(f"/tmp/sloplane-report-{name}.png"))  # for a human look
