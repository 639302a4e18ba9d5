"""Alert routing as code: AlertManager configuration and templates, and an API v2 client.

:func:`render_alertmanager` is what ``sloplane generate`` calls; the routing input
is the ``AlertRouting`` document (see :mod:`sloplane.alerts.routing`).
"""

from __future__ import annotations

from sloplane.alerts.config import render_config
from sloplane.alerts.routing import KIND, AlertRouting, parse_routing
from sloplane.alerts.templates import TEMPLATE_FILE, render_templates
from sloplane.artifacts import Artifacts, GenerateSettings
from sloplane.slo.catalog import Catalog
from sloplane.slo.naming import Labels

CONFIG_FILE = "alertmanager/alertmanager.yml"


def render_alertmanager(catalog: Catalog, settings: GenerateSettings | None = None) -> Artifacts:
    """``alertmanager/alertmanager.yml`` and its notification templates for ``catalog``."""
    settings = settings or GenerateSettings()
    labels = Labels(settings.label_mode)
    routing = parse_routing(catalog.documents_of(KIND))
    return {
        CONFIG_FILE: render_config(catalog, routing, labels),
        TEMPLATE_FILE: render_templates(labels),
    }


__all__ = ["CONFIG_FILE", "KIND", "AlertRouting", "parse_routing", "render_alertmanager"]
