"""The promtool test cases that pin a stack's rules: series in, alerts or values expected.

Kept apart from the rule builders in :mod:`sloplane.exporters.stack_rules`: a kind's
module reads as its rules first, then the cases that prove them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AlertTest:
    """Series (``'metric{labels}': 'values'``), an eval time, and the alerts expected then."""

    series: dict[str, str]
    eval_time: str
    alert: str
    fires: list[dict[str, str]] = field(default_factory=list)


def fires_and_not(
    alert: str,
    eval_time: str,
    firing: dict[str, str],
    quiet: dict[str, str],
    labels: dict[str, str] | None = None,
) -> list[AlertTest]:
    """Two cases of one alert at one time: series that fire it (with ``labels`` beyond the
    ones the series share), then a near miss that must not; the pair pins the threshold."""
    return [AlertTest(firing, eval_time, alert, [labels or {}]), AlertTest(quiet, eval_time, alert)]


@dataclass(frozen=True)
class RecordTest:
    series: dict[str, str]
    eval_time: str
    expr: str
    expected: list[tuple[str, float]]
