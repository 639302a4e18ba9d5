"""Turning the API's documents into what a page shows: formats, filters and the worst-first order.

Formatting only rounds for the eye; every rounded number is rendered next to its exact
value (``data-value``/``title``), so a reader or a test can check it against the API.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

STATUS_LABELS = {
    "breached": "Breached",
    "at_risk": "At risk",
    "insufficient_data": "Insufficient data",
    "no_data": "No data",
    "unknown": "Unknown",
    "ok": "OK",
}
# Worst first: a breach, then a burn, then what cannot be judged, then fine.
STATUS_RANK = {"breached": 0, "at_risk": 1, "insufficient_data": 2, "no_data": 3, "unknown": 3}
SORTS = ("worst", "name", "objective", "sli", "budget", "burn", "alerts")


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "unknown", (status or "unknown").replace("_", " "))


def status_rank(status: str | None) -> int:
    return STATUS_RANK.get(status or "unknown", 4 if status == "ok" else 3)


def number(value: Any) -> float | None:
    """A finite float, or None for null, NaN and infinities (shown as a dash)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def pct(value: Any, digits: int = 2) -> str:
    v = number(value)
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def objective_pct(value: Any) -> str:
    """The objective as written: 0.999 -> 99.9%, without trailing zeros."""
    v = number(value)
    if v is None:
        return "—"
    text = f"{v * 100:.6f}".rstrip("0").rstrip(".")
    return f"{text}%"


def burn(value: Any) -> str:
    v = number(value)
    return "—" if v is None else f"{v:.2f}×"


def minutes(value: Any) -> str:
    """Minutes as a duration a person reads: 43.2 min, 7h 12m, 2d 3h (negative: overspent)."""
    v = number(value)
    if v is None:
        return "—"
    sign = "−" if v < 0 else ""
    m = abs(v)
    if m < 60:
        return f"{sign}{m:.1f} min"
    whole = round(m)  # 107.99999 minutes (float noise) reads as 1h 48m
    if whole < 1440:
        return f"{sign}{whole // 60}h {whole % 60}m"
    hours = round(m / 60)
    return f"{sign}{hours // 24}d {hours % 24}h"


def when(value: Any) -> str:
    v = number(value)
    if v is None:
        return "—"
    return datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%d %H:%M UTC")


def exact(value: Any) -> str:
    """The exact value for ``data-value``/``title``: Python's shortest round-trip repr."""
    v = number(value)
    return "" if v is None else repr(v)


def remaining(status: Mapping[str, Any]) -> float | None:
    return number((status.get("error_budget") or {}).get("remaining_ratio"))


def worst_key(status: Mapping[str, Any]) -> tuple[int, float, str]:
    r = remaining(status)
    return (status_rank(status.get("status")), math.inf if r is None else r, str(status["id"]))


def group_key(group: Mapping[str, Any]) -> tuple[int, float, str]:
    """Worst group first: most breaches, then the lowest budget left (none: last)."""
    r = number(group.get("worst_budget_remaining_ratio"))
    return (-int(group.get("breached") or 0), math.inf if r is None else r, str(group["key"]))


SORT_KEYS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "name": lambda s: str(s["id"]),
    "objective": lambda s: number(s.get("objective")),
    "sli": lambda s: number(s.get("sli")),
    "budget": remaining,
    "burn": lambda s: number(s.get("current_burn_rate")),
    "alerts": lambda s: len(s.get("firing_alerts") or []),
}


def sort_statuses(
    statuses: Iterable[Mapping[str, Any]], sort: str, descending: bool
) -> list[Mapping[str, Any]]:
    """``worst`` (default) is status rank then the least budget left; other keys put SLOs
    without a value last whichever the direction, then break ties by id."""
    items = sorted(statuses, key=lambda s: str(s["id"]))
    if sort not in SORT_KEYS:
        items.sort(key=worst_key, reverse=descending)
        return items
    get = SORT_KEYS[sort]
    present = [s for s in items if get(s) is not None]
    missing = [s for s in items if get(s) is None]
    present.sort(key=get, reverse=descending)
    return present + missing


def filter_statuses(
    statuses: Iterable[Mapping[str, Any]],
    service: str | None,
    team: str | None,
    status: str | None,
) -> list[Mapping[str, Any]]:
    return [
        s
        for s in statuses
        if (not service or s.get("service") == service)
        and (not team or (s.get("team") or "") == team)
        and (not status or s.get("status") == status)
    ]


def flatten_groups(groups: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every SLO status from ``/services`` (each SLO belongs to exactly one service)."""
    return [s for g in groups for s in g.get("statuses") or []]


COVERAGE_SHORT = 0.99
"""Below this share of the SLO window covered by recorded series the API reads the source
queries instead (the rules' coverage contract); the console flags the same threshold."""


def coverage_ratio(status: Mapping[str, Any]) -> float | None:
    """How much of the SLO window the recorded series cover, as the API reports it: the
    ``windows`` entry of the SLO window, else ``coverage`` (a ratio or ``{"ratio": ...}``)."""
    for reading in status.get("windows") or []:
        if isinstance(reading, Mapping) and reading.get("window") == status.get("window"):
            return number(reading.get("coverage_ratio"))
    cov = status.get("coverage")
    return number(cov.get("ratio") if isinstance(cov, Mapping) else cov)


def coverage_short(status: Mapping[str, Any]) -> str | None:
    """A short note when the API reports coverage under :data:`COVERAGE_SHORT`, else None."""
    ratio = coverage_ratio(status)
    if ratio is None or ratio >= COVERAGE_SHORT:
        return None
    return f"{pct(ratio, 1)} of {status.get('window', 'the window')} recorded"


def group_label(group: Any) -> str:
    """``{"job": "checkout"}`` -> ``job=checkout`` (the API's group of a group_by SLO)."""
    if not isinstance(group, Mapping) or not group:
        return ""
    return ", ".join(f"{k}={v}" for k, v in sorted(group.items()))


def group_params(group: Any) -> list[str]:
    """A group's labels as the history's ``group`` parameters: ``["job=checkout"]``."""
    if not isinstance(group, Mapping):
        return []
    return [f"{k}={v}" for k, v in sorted(group.items())]


FILTERS = {
    "pct": pct,
    "objective_pct": objective_pct,
    "burn": burn,
    "minutes": minutes,
    "when": when,
    "exact": exact,
    "status_label": status_label,
    "group_label": group_label,
}
