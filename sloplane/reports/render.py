"""Render a :class:`Report` as JSON, Markdown and HTML (deterministic bytes for equal input)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from sloplane.reports import charts
from sloplane.reports.model import Report, SLOWeek

FORMATS = ("html", "md", "json")
TREND_ARROW = {"better": "▲ better", "worse": "▼ worse", "same": "= same", "unknown": "–"}


def pct(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    m = abs(value)
    return f"{sign}{int(m // 60)}h{int(m % 60):02d}m" if m >= 60 else f"{sign}{m:.1f} min"


def duration(seconds: float) -> str:
    return minutes(seconds / 60)


def met(value: bool | None) -> str:
    return "no data" if value is None else ("met" if value else "MISSED")


def stamp(t: float, tz: str) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M")


def day_range(report: Report) -> str:
    start = datetime.fromtimestamp(report.start, UTC).astimezone(ZoneInfo(report.timezone))
    end = datetime.fromtimestamp(report.end - 1, UTC).astimezone(ZoneInfo(report.timezone))
    return f"{start:%Y-%m-%d} – {end:%Y-%m-%d} ({report.timezone})"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("sloplane.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=pct, minutes=minutes, duration=duration, met=met)
    env.globals.update(stamp=stamp, trend=TREND_ARROW, day_range=day_range)
    return env


ENV = _env()


def to_json(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def headline(report: Report) -> str:
    """One line for chat: how many SLOs met, missed or had no data, and which are low on budget.

    Three counts, because an SLO without data did not meet its objective: counting it
    as met would hide a broken pipeline behind a green summary.
    """
    met_, missed, no_data = report.met, report.missed, report.no_data
    text = (
        f"SLO report {report.week} ({report.scope}): {len(met_)} met, {len(missed)} missed, "
        f"{len(no_data)} without data this week"
    )
    if missed:
        text += "; missed: " + ", ".join(s.id for s in missed)
    if no_data:
        text += "; without data: " + ", ".join(s.id for s in no_data)
    low = [s.id for s in report.at_risk]
    if low:
        text += "; under 25% budget left: " + ", ".join(low)
    return text + "."


def to_markdown(report: Report) -> str:
    return ENV.get_template("report.md.j2").render(report=report, headline=headline(report))


def to_html(report: Report) -> str:
    chart_svgs: dict[str, tuple[str, str]] = {
        s.id: (
            charts.sli_chart(s),
            charts.burn_down_chart(s, report.start, report.end, report.timezone),
        )
        for s in report.slos
    }
    return ENV.get_template("report.html.j2").render(
        report=report, headline=headline(report), charts=chart_svgs
    )


def render_all(report: Report) -> dict[str, str]:
    return {"json": to_json(report), "md": to_markdown(report), "html": to_html(report)}


def status_class(slo: SLOWeek) -> str:
    """Row style: green only for a measured, met week; no data is neutral, never green."""
    if slo.week_met is False or (slo.budget_remaining_ratio or 0) < 0:
        return "bad"
    if slo.budget_remaining_ratio is not None and slo.budget_remaining_ratio < 0.25:
        return "warn"
    return "good" if slo.week_met else "nodata"


def met_class(value: bool | None) -> str:
    return "nodata" if value is None else ("good" if value else "bad")


ENV.globals["status_class"] = status_class
ENV.filters["met_class"] = met_class
