"""The PromQL a generated SLO dashboard sends for one SLO's panels, as Grafana sends it.

Grafana substitutes the template variables at view time; a freshly opened dashboard has
every variable at its default (the service, and "All" for ``$slo`` and the group
variables, whose ``allValue`` is ``.+``), which :func:`variable_values` reproduces.
"""

from __future__ import annotations

import json

from sloplane.dashboards import render_dashboards
from sloplane.dashboards.queries import expand, variable_values
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO
from sloplane.slo.naming import dashboard_path, dashboard_uid

SLI_PANEL = "SLI over {window}"
BUDGET_PANEL = "Error budget remaining"


def slo_panel_queries(catalog: Catalog, slo: SLO, **settings: object) -> dict[str, str]:
    """Title -> the expanded expression of every single-query panel in ``slo``'s row of its
    service dashboard (generated from ``catalog`` with ``GenerateSettings(**settings)``)."""
    from sloplane.artifacts import GenerateSettings

    artifacts = render_dashboards(catalog, GenerateSettings(**settings))  # type: ignore[arg-type]
    data = json.loads(artifacts[dashboard_path(dashboard_uid(slo.service))])
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
