"""The PromQL a generated SLO dashboard sends for one SLO's panels, as Grafana sends it.

Grafana substitutes the template variables at view time; a freshly opened dashboard has
every variable at its default (the service, and "All" for ``$slo`` and the group
variables, whose ``allValue`` is ``.+``), which :func:`variable_values` reproduces.
"""

from __future__ import annotations

import json
from typing import Any

from sloplane.artifacts import GenerateSettings
from sloplane.dashboards import render_dashboards
from sloplane.dashboards.queries import expand, variable_values
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO
from sloplane.slo.naming import dashboard_path, dashboard_uid

SLI_PANEL = "SLI over {window}"
BUDGET_PANEL = "Error budget remaining"


def _service_dashboard(catalog: Catalog, service: str, settings: dict[str, Any]) -> dict[str, Any]:
    artifacts = render_dashboards(catalog, GenerateSettings(**settings))
    return dict(json.loads(artifacts[dashboard_path(dashboard_uid(service))]))


def slo_panel_queries(catalog: Catalog, slo: SLO, **settings: Any) -> dict[str, str]:
    """Title -> the expanded expression of every single-query panel in ``slo``'s row of its
    service dashboard (generated from ``catalog`` with ``GenerateSettings(**settings)``)."""
    data = _service_dashboard(catalog, slo.service, settings)
    values = variable_values(data)
    found: dict[str, str] = {}
    in_row = False
    for panel in data["panels"]:
        if panel["type"] == "row":
            in_row = panel["title"].startswith(f"{slo.name}: ")
            continue
        targets = panel.get("targets", [])
        if in_row and len(targets) == 1:
            found[panel["title"]] = expand(targets[0]["expr"], values)
    return found


def summary_queries(catalog: Catalog, service: str, **settings: Any) -> dict[str, str]:
    """Column query's legend (``sli``, ``budget``, ``history``, ...) -> its expanded
    expression, in the summary table of ``service``'s dashboard."""
    data = _service_dashboard(catalog, service, settings)
    values = variable_values(data)
    (table,) = [p for p in data["panels"] if p["type"] == "table"]
    return {t["legendFormat"]: expand(t["expr"], values) for t in table["targets"]}
