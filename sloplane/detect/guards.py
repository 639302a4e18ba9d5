"""The rules that stand between a detection and an action. Pure functions.

Autoscalers and progressive-delivery tools have scaled to zero or rolled back
healthy releases because a metrics query failed and was read as "0". Here,
missing, stale or erroneous data is never evidence: it is a reason to refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Evidence:
    """What the trigger knew when it asked to act."""

    data_error: str | None = None
    """Why the data cannot be trusted (missing, stale, Prometheus error), or None."""
    breaches: int = 0
    required_breaches: int = 1
    traffic: float | None = None
    """Observed traffic, when a minimum is configured."""
    traffic_min: float | None = None
    traffic_error: str | None = None


@dataclass(frozen=True)
class Limits:
    cooldown: float
    max_per_hour: int


def refusal(evidence: Evidence, limits: Limits, recent: Sequence[float], now: float) -> str | None:
    """The reason not to act, or None when every guard passes.

    ``recent`` holds the times of earlier actions on the same target.
    """
    if evidence.data_error:
        return f"data not trustworthy: {evidence.data_error}"
    if evidence.traffic_min is not None:
        if evidence.traffic_error:
            return f"traffic unknown: {evidence.traffic_error}"
        if evidence.traffic is None:
            return "traffic unknown: the traffic query returned no data"
        if evidence.traffic < evidence.traffic_min:
            return f"traffic {evidence.traffic:g} below minimum {evidence.traffic_min:g}"
    if evidence.breaches < evidence.required_breaches:
        return f"{evidence.breaches} consecutive breaches, {evidence.required_breaches} required"
    if recent and now - max(recent) < limits.cooldown:
        return (
            f"cooldown: last action {now - max(recent):.0f}s ago, cooldown {limits.cooldown:.0f}s"
        )
    in_hour = sum(1 for t in recent if now - t < 3600.0)
    if in_hour >= limits.max_per_hour:
        return f"hourly limit: {in_hour} actions in the last hour, maximum {limits.max_per_hour}"
    return None


def plan_scale(
    current: int, step: int, min_replicas: int, max_replicas: int, max_step: int
) -> tuple[int | None, str]:
    """Next replica count within bounds and step limit, or None with the reason."""
    delta = max(-max_step, min(max_step, step))
    wanted = max(min_replicas, min(max_replicas, current + delta))
    if wanted == current:
        return None, f"at bound: {current} replicas (bounds {min_replicas}..{max_replicas})"
    return wanted, f"{current} -> {wanted} replicas"
