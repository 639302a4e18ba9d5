"""Panel builders on top of grafanalib, with the conventions every sloplane dashboard shares.

Every panel reads from the ``$datasource`` variable, so one dashboard works for
every Prometheus a team runs. Layout is computed here (a left-to-right flow on
Grafana's 24-column grid) so panel positions, and therefore the JSON, are stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grafanalib.core as g

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GREEN, ORANGE, RED, BLUE = "green", "orange", "red", "blue"


def target(
    expr: str, legend: str = "", ref: str = "A", instant: bool = False, table: bool = False
) -> g.Target:
    return g.Target(
        expr=expr,
        legendFormat=legend or "__auto",
        refId=ref,
        instant=instant,
        format="table" if table else "time_series",
        datasource=DATASOURCE,
    )


def targets(
    queries: Sequence[tuple[str, str]], instant: bool = False, table: bool = False
) -> list[g.Target]:
    """Targets A, B, C, ... from ``(expr, legend)`` pairs."""
    return [
        target(expr, legend, chr(ord("A") + i), instant=instant, table=table)
        for i, (expr, legend) in enumerate(queries)
    ]


def steps(base: str, *levels: tuple[float, str]) -> dict[str, Any]:
    """Absolute thresholds: ``base`` colour below the first level."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": c, "value": v} for v, c in sorted(levels)],
    }


def _field_defaults(
    unit: str, thresholds: dict[str, Any] | None, extra: dict[str, Any]
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit, **extra}
    if thresholds is not None:
        defaults["thresholds"] = thresholds
    return {"fieldConfig": {"defaults": defaults}}


def timeseries(
    title: str,
    queries: Sequence[tuple[str, str]],
    unit: str = "short",
    thresholds: dict[str, Any] | None = None,
    description: str = "",
    soft_min: float | None = None,
    soft_max: float | None = None,
) -> g.TimeSeries:
    custom: dict[str, Any] = {
        "thresholdsStyle": {"mode": "dashed" if thresholds else "off"},
        "spanNulls": True,
    }
    if soft_min is not None:
        custom["axisSoftMin"] = soft_min
    if soft_max is not None:
        custom["axisSoftMax"] = soft_max
    return g.TimeSeries(
        title=title,
        description=description or None,
        dataSource=DATASOURCE,
        targets=targets(queries),
        unit=unit,
        legendDisplayMode="list",
        tooltipMode="multi",
        extraJson=_field_defaults(unit, thresholds, {"custom": custom}),
    )


def stat(
    title: str,
    expr: str,
    unit: str = "short",
    thresholds: dict[str, Any] | None = None,
    description: str = "",
    decimals: int | None = None,
) -> g.Stat:
    extra: dict[str, Any] = {}
    if decimals is not None:
        extra["decimals"] = decimals
    return g.Stat(
        title=title,
        description=description or None,
        dataSource=DATASOURCE,
        targets=[target(expr, "", instant=True)],
        format=unit,
        colorMode="background",
        graphMode="area",
        reduceCalc="lastNotNull",
        extraJson=_field_defaults(unit, thresholds, extra),
    )


def gauge(
    title: str,
    expr: str,
    unit: str,
    thresholds: dict[str, Any],
    min_: float = 0,
    max_: float = 1,
    description: str = "",
) -> g.GaugePanel:
    panel = g.GaugePanel(
        title=title,
        description=description or None,
        dataSource=DATASOURCE,
        targets=[target(expr, "", instant=True)],
        format=unit,
        min=min_,
        max=max_,
        calc="lastNotNull",
    )
    panel.extraJson = {
        "fieldConfig": {
            "defaults": {
                "thresholds": thresholds,
                "unit": unit,
                "min": min_,
                "max": max_,
                "decimals": 1,
            }
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showThresholdMarkers": True,
            "showThresholdLabels": False,
        },
    }
    return panel


def table(
    title: str,
    queries: Sequence[tuple[str, str]],
    transformations: list[dict[str, Any]],
    overrides: list[dict[str, Any]],
    description: str = "",
) -> g.Table:
    return g.Table(
        title=title,
        description=description or None,
        dataSource=DATASOURCE,
        targets=targets(queries, instant=True, table=True),
        transformations=transformations,
        overrides=overrides,
        extraJson={"options": {"cellHeight": "sm", "footer": {"show": False}}},
    )


def row(title: str) -> g.RowPanel:
    return g.RowPanel(title=title, collapsed=False)


@dataclass
class Layout:
    """Places panels left to right on the 24-column grid, wrapping as needed."""

    panels: list[g.Panel] = field(default_factory=list)
    x: int = 0
    y: int = 0
    row_height: int = 0

    def add(self, panel: g.Panel, w: int, h: int) -> None:
        if self.x + w > 24:
            self.newline()
        panel.gridPos = g.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def add_row(self, title: str) -> None:
        if self.x:
            self.newline()
        self.add(row(title), 24, 1)
        self.newline()
