"""Grafana dashboards as code, from the same SLO definitions as the rules.

:func:`render_dashboards` is what ``sloplane generate`` calls: one dashboard per
service, an overview of every SLO, one per exporter kind, and Grafana's
file-provisioning configuration.
"""

from __future__ import annotations

from sloplane.artifacts import Artifacts, GenerateSettings
from sloplane.dashboards.detectors import DETECTORS_UID, detectors_dashboard
from sloplane.dashboards.exporters import exporter_dashboards
from sloplane.dashboards.provisioning import PROVISIONING_FILE, provisioning_yaml
from sloplane.dashboards.render import to_json
from sloplane.dashboards.slos import OVERVIEW_UID, overview_dashboard, service_dashboard
from sloplane.errors import SpecError
from sloplane.slo.catalog import Catalog
from sloplane.slo.naming import DASHBOARD_UID, Labels, dashboard_path, dashboard_uid, name_problems


def render_dashboards(catalog: Catalog, settings: GenerateSettings | None = None) -> Artifacts:
    """``grafana/<uid>.json`` for every dashboard and ``grafana/provisioning/dashboards.yaml``.

    Services whose dashboards would share a uid (``a.b`` and ``a-b``) raise :class:`SpecError`.
    """
    problems = name_problems(catalog, DASHBOARD_UID)
    if problems:
        raise SpecError(problems)
    settings = settings or GenerateSettings()
    labels = Labels(settings.label_mode)
    out: Artifacts = {}
    for service in catalog.services():
        uid = dashboard_uid(service)
        out[dashboard_path(uid)] = to_json(service_dashboard(catalog, service, labels))
    if catalog.slos:
        out[dashboard_path(OVERVIEW_UID)] = to_json(overview_dashboard(catalog, labels))
    for uid, data in exporter_dashboards().items():
        out[dashboard_path(uid)] = to_json(data)
    out[dashboard_path(DETECTORS_UID)] = to_json(detectors_dashboard())
    out[PROVISIONING_FILE] = provisioning_yaml()
    return dict(sorted(out.items()))


__all__ = ["OVERVIEW_UID", "PROVISIONING_FILE", "dashboard_path", "render_dashboards"]
