"""Alert firing intervals of one SLO over its window, as the API knows them.

They come from the API's ``/slos/{id}/alerts``, read from Prometheus' ``ALERTS`` over the
page's window (``[start, end)`` per alert, exact to within the answer's step). When that
fails (the backend is down) the page falls back to the stored weekly reports, whose
incidents the report collected from ``ALERTS``; it then names the weeks the reports cover
and the weeks of the window without one, so a gap is never read as "no alerts".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sloplane.console import charts

WEEK = 7 * 86400
MAX_WEEKS = 14


@dataclass
class Incidents:
    intervals: list[charts.Interval] = field(default_factory=list)
    covered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    source: str = "reports"
    step: float | None = None
    """The API's resolution in seconds (``source == "api"``)."""
    ongoing: list[bool] = field(default_factory=list)
    """Per interval: still firing at the window's end (``source == "api"``)."""
    error: str | None = None
    """Why the API's ``ALERTS`` history could not be read (the reports were used)."""


def week_start(week: str) -> float:
    """Monday 00:00 UTC of an ISO week ``2026-W46`` (the report's own timezone may shift
    its week by hours; the page names weeks, not instants, for that reason)."""
    year, num = week.split("-W")
    return datetime.combine(
        date.fromisocalendar(int(year), int(num), 1), datetime.min.time(), UTC
    ).timestamp()


def weeks_between(start: float, end: float) -> list[str]:
    """ISO weeks overlapping [start, end], oldest first, at most MAX_WEEKS (the newest)."""
    out: list[str] = []
    t = datetime.fromtimestamp(start, UTC)
    t = t.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=t.weekday())
    while t.timestamp() < end:
        y, w, _ = t.isocalendar()
        out.append(f"{y}-W{w:02d}")
        t += timedelta(days=7)
    return out[-MAX_WEEKS:]


def interval(incident: dict[str, Any]) -> charts.Interval:
    severity = str(incident.get("severity", ""))
    return charts.Interval(
        float(incident["start"]),
        float(incident["end"]),
        f"{incident.get('alertname', '')} ({severity})",
        "bar-bad" if severity == "page" else "bar-warn",
    )


def from_api(history: dict[str, Any]) -> Incidents:
    """The API's ``AlertHistory`` document."""
    rows = history.get("intervals") or []
    return Incidents(
        intervals=[interval(i) for i in rows],
        source="api",
        step=float(history["step"]),
        ongoing=[bool(i.get("ongoing")) for i in rows],
    )


async def from_reports(page: Any, slo: dict[str, Any], start: float, end: float) -> Incidents:
    """Incidents of ``slo`` from the stored reports of the weeks in the window."""
    listed = await page.try_get("/api/v1/reports", at=None)
    scopes = {"all", f"service:{slo['service']}", f"team:{slo.get('team')}"}
    by_week: dict[str, str] = {}
    for r in listed.body if listed.ok and isinstance(listed.body, list) else []:
        if r.get("scope") in scopes and "json" in r.get("formats", ["json"]):
            by_week.setdefault(r["week"], r["scope"])
    found = Incidents()
    for week in weeks_between(start, end):
        scope = by_week.get(week)
        if scope is None:
            found.missing.append(week)
            continue
        answer = await page.try_get(
            f"/api/v1/reports/{quote(scope, safe='')}/{week}", format="json", at=None
        )
        rows = answer.body.get("slos", []) if answer.ok and isinstance(answer.body, dict) else None
        if rows is None:
            found.missing.append(week)
            continue
        found.covered.append(week)
        for row in rows:
            if row.get("id") == slo["id"]:
                found.intervals += [interval(i) for i in row.get("incidents") or []]
    return found
