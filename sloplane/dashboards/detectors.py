"""A dashboard for the anomaly-detection service: scores against alert level, values, firing.

The detector's own thresholds live in its config, not in Prometheus, so the panel
draws the common 0.5 and 0.8 levels as guides; the firing panel is the truth.
"""

from __future__ import annotations

from typing import Any

from sloplane.dashboards.panels import GREEN, ORANGE, RED, Layout, stat, steps, timeseries
from sloplane.dashboards.render import dashboard, datasource_variable, query_variable

DETECTORS_UID = "sloplane-detectors"
WATCH = '{watch=~"$watch"}'


def detectors_dashboard() -> dict[str, Any]:
    layout = Layout()
    layout.add(
        stat(
            "Watches polling", f"sum(sloplane_detector_up{WATCH})", "none", steps(RED, (1.0, GREEN))
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "Series firing",
            f"sum(sloplane_anomaly_firing{WATCH}) or vector(0)",
            "none",
            steps(GREEN, (1.0, RED)),
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "Poll errors (1h)",
            'sum(increase(sloplane_detector_events_total{event="poll_error"}[1h])) or vector(0)',
            "none",
            steps(GREEN, (1.0, ORANGE)),
        ),
        6,
        4,
    )
    layout.newline()
    layout.add(
        timeseries(
            "Anomaly score",
            [(f"sloplane_anomaly_score{WATCH}", "{{watch}} {{instance}}")],
            "percentunit",
            thresholds=steps(GREEN, (0.5, ORANGE), (0.8, RED)),
            soft_min=0,
            soft_max=1,
        ),
        24,
        9,
    )
    layout.add(
        timeseries("Watched value", [(f"sloplane_anomaly_value{WATCH}", "{{watch}} {{instance}}")]),
        12,
        8,
    )
    layout.add(
        timeseries("Firing", [(f"sloplane_anomaly_firing{WATCH}", "{{watch}} {{instance}}")]),
        12,
        8,
    )
    layout.add(
        timeseries(
            "Detector events (per second)",
            [
                (
                    "sum by (event) (rate(sloplane_detector_events_total[$__rate_interval]))",
                    "{{event}}",
                )
            ],
            "ops",
        ),
        24,
        7,
    )
    return dashboard(
        uid=DETECTORS_UID,
        title="sloplane / Anomaly detection",
        description="Scores, values and alerts of `sloplane detect serve`",
        panels=layout.panels,
        variables=[
            datasource_variable(),
            query_variable("watch", "Watch", "label_values(sloplane_detector_up, watch)"),
        ],
        tags=["sloplane", "anomaly"],
        time_from="now-6h",
    )
