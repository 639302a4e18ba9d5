"""Every series ``sloplane detect serve`` exposes on /metrics, and its event names.

Kept apart from the service so that dashboards and ``sloplane check`` can know the
names without importing the detectors' numeric stack.
"""

EXPOSED_METRICS = (
    "sloplane_anomaly_score",
    "sloplane_anomaly_value",
    "sloplane_anomaly_firing",
    "sloplane_anomaly_threshold",
    "sloplane_detector_up",
    "sloplane_detector_series",
    "sloplane_detector_warming_up",
    "sloplane_detector_warmup_remaining_points",
    "sloplane_detector_warmup_eta_seconds",
    "sloplane_detector_shard",
    "sloplane_detector_events_total",
)

#: ``event`` values of ``sloplane_detector_events_total`` whose ``name`` is a watch.
#: ``future_samples``: points dated after now (plus the allowed clock skew), refused.
WATCH_EVENTS = (
    "points",
    "poll_errors",
    "future_samples",
    "alerts_firing",
    "alerts_resolved",
)
#: ``event`` values whose ``name`` is an action: ``actions_<outcome>``.
ACTION_OUTCOMES = ("executed", "dry_run", "refused", "failed", "pending_approval", "unknown")
#: Every ``event`` value; ``outbox_errors`` is named ``alertmanager``.
EVENTS = (*WATCH_EVENTS, *(f"actions_{o}" for o in ACTION_OUTCOMES), "outbox_errors")
