"""Every PromQL query in a dashboard, and Grafana's variables expanded for checking.

Grafana only substitutes ``$service`` or ``$__rate_interval`` at view time; to
parse or run a panel's query outside Grafana we substitute representative values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Values that stand in for Grafana's variables when a query runs outside Grafana.
DEFAULT_VALUES: dict[str, str] = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "slo": ".+",
    "instance": ".+",
}

_VAR_RE = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str


def panel_queries(dashboard: Mapping[str, Any]) -> Iterator[PanelQuery]:
    """Every target expression of every panel (rows' nested panels included), plus annotations."""
    uid = str(dashboard.get("uid", ""))
    for panel in _panels(dashboard.get("panels", [])):
        for tgt in panel.get("targets", []):
            if tgt.get("expr"):
                yield PanelQuery(
                    uid, str(panel.get("title", "")), str(tgt.get("refId", "")), tgt["expr"]
                )
    for ann in dashboard.get("annotations", {}).get("list", []):
        if ann.get("expr"):
            yield PanelQuery(uid, f"annotation {ann.get('name', '')}", "", ann["expr"])


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def variable_values(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """Stand-in values: a single-valued variable's current value, else :data:`DEFAULT_VALUES`."""
    values = dict(DEFAULT_VALUES)
    for var in dashboard.get("templating", {}).get("list", []):
        current = var.get("current", {}).get("value")
        if isinstance(current, str) and current and not current.startswith("$"):
            values[var["name"]] = current
        elif var.get("multi") or var.get("includeAll"):
            values[var["name"]] = ".+"
    return values


def expand(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with ``$var`` and ``${var}`` replaced; unknown variables become ``.+``."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, ".+")

    return _VAR_RE.sub(sub, expr)
