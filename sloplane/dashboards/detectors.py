"""A dashboard for the anomaly-detection service: scores against each watch's threshold.

Series panels leave the legend to Grafana (every label): the watched series' own
``instance`` and ``job`` become ``exported_instance`` and ``exported_job`` when
Prometheus scrapes the service without ``honor_labels``, so no fixed legend is right
in both set-ups.
"""

from __future__ import annotations

from typing import Any

from sloplane.dashboards.panels import GREEN, ORANGE, RED, Layout, stat, steps, timeseries
from sloplane.dashboards.render import dashboard, datasource_variable, query_variable

DETECTORS_UID = "sloplane-detectors"
WATCH = '{watch=~"$watch"}'
ALL_LABELS = ""
"""Grafana's automatic legend: the series with all its labels."""


def detectors_dashboard() -> dict[str, Any]:
    layout = Layout()
    layout.add(
        stat(
            "Watches polling", f"sum(sloplane_detector_up{WATCH})", "none", steps(RED, (1.0, GREEN))
        ),
        5,
        4,
    )
    layout.add(
        stat(
            "Series firing",
            f"sum(sloplane_anomaly_firing{WATCH}) or vector(0)",
            "none",
            steps(GREEN, (1.0, RED)),
        ),
        5,
        4,
    )
    layout.add(
        stat(
            "Series watched",
            f"sum(sloplane_detector_series{WATCH})",
            "none",
            steps(RED, (1.0, GREEN)),
        ),
        5,
        4,
    )
    layout.add(
        stat(
            "Poll errors (1h)",
            "sum(increase(sloplane_detector_events_total"
            '{event="poll_errors", name=~"$watch"}[1h])) or vector(0)',
            "none",
            steps(GREEN, (1.0, ORANGE)),
        ),
        5,
        4,
    )
    layout.add(
        stat(
            "Warm-up left",
            f"max(sloplane_detector_warmup_eta_seconds{WATCH})",
            "s",
            steps(GREEN, (1.0, ORANGE)),
        ),
        4,
        4,
    )
    layout.newline()
    layout.add(
        timeseries(
            "Anomaly score",
            [
                (f"sloplane_anomaly_score{WATCH}", ALL_LABELS),
                (f"sloplane_anomaly_threshold{WATCH}", "{{watch}} threshold"),
            ],
            "percentunit",
            soft_min=0,
            soft_max=1,
        ),
        24,
        9,
    )
    layout.add(
        timeseries("Watched value", [(f"sloplane_anomaly_value{WATCH}", ALL_LABELS)]),
        12,
        8,
    )
    layout.add(
        timeseries("Firing", [(f"sloplane_anomaly_firing{WATCH}", ALL_LABELS)]),
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
