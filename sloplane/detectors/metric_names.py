"""Every series ``sloplane detect serve`` exposes on /metrics.

Kept apart from the service so that dashboards and ``sloplane check`` can know the
names without importing the detectors' numeric stack.
"""

EXPOSED_METRICS = (
    "sloplane_anomaly_score",
    "sloplane_anomaly_value",
    "sloplane_anomaly_firing",
    "sloplane_detector_up",
    "sloplane_detector_events_total",
)
