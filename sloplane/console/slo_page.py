"""The SLO page's pieces drawn from the API's answers: burn rows, history charts, extra fields."""

from __future__ import annotations

from typing import Any

from sloplane.console import charts, views


def burn_rows(status: dict[str, Any]) -> list[charts.BurnRow]:
    return [
        charts.BurnRow(
            label=f"{b['severity']} {b['long_window']}/{b['short_window']}",
            threshold=float(b["threshold"]),
            long_rate=views.number(b.get("long_burn_rate")),
            short_rate=views.number(b.get("short_burn_rate")),
            burning=bool(b.get("burning")),
        )
        for b in status.get("burn_rates") or []
    ]


def slo_charts(status: dict[str, Any], history: dict[str, Any]) -> dict[str, Any]:
    points = history.get("points") or []
    objective = float(status["objective"])
    burn_window = history.get("burn_rate_window")
    span = (float(history["start"]), float(history["end"]))
    thresholds = [
        charts.HLine(float(b["threshold"]), f"{b['severity']} {b['threshold']:g}×", b["severity"])
        for b in status.get("burn_rates") or []
        if b["long_window"] == burn_window
    ]

    def series(key: str) -> list[charts.Point]:
        return [(float(p["t"]), views.number(p.get(key))) for p in points]

    return {
        "sli": charts.line_chart(
            series("sli"),
            title="SLI against the objective",
            desc=f"Good ratio over the {status['window']} window; the objective "
            f"{views.objective_pct(objective)} is the horizontal line.",
            y_format=lambda v: views.pct(v, 3),
            hlines=[
                charts.HLine(objective, f"objective {views.objective_pct(objective)}", "objective")
            ],
            y_ceiling=1.0,
            chart_id="sli",
            span=span,
        ),
        "budget": charts.line_chart(
            series("budget_remaining_ratio"),
            title="Error budget remaining",
            desc="Share of the error budget left over the window; below zero the SLO is breached.",
            y_format=lambda v: views.pct(v, 0),
            hlines=[
                charts.HLine(0.0, "exhausted", "page"),
                charts.HLine(0.25, "at risk", "ticket"),
            ],
            y_floor=0.0,
            y_ceiling=1.0,
            chart_id="budget",
            span=span,
        ),
        "burn": charts.line_chart(
            series("burn_rate"),
            title=f"Burn rate over {burn_window}",
            desc="Burn rate of the shortest page window with the page and ticket thresholds.",
            y_format=lambda v: f"{v:.1f}×",
            hlines=thresholds,
            y_floor=0.0,
            chart_id="burnhist",
            span=span,
        ),
    }


KNOWN_DEFINITION = {
    "id",
    "service",
    "name",
    "team",
    "description",
    "objective",
    "window",
    "window_seconds",
    "labels",
    "runbook_url",
    "status",
}


def definition_extras(definition: dict[str, Any]) -> dict[str, Any]:
    """Definition fields the API added beyond the summary (queries, source, rule names)."""
    return {k: v for k, v in definition.items() if k not in KNOWN_DEFINITION}
