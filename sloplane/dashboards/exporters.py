"""Dashboards for the metrics of sloplane's exporters (PostgreSQL, Redis, RabbitMQ, HTTP probes).

Built from the exporters' own metric specs, so a family added to an exporter gets
a panel without anyone editing a dashboard, and no panel can name a metric the
exporter does not emit. Tolerates the exporters package being absent.
"""

from __future__ import annotations

import importlib
from typing import Any

from sloplane.dashboards.panels import GREEN, RED, Layout, stat, steps, timeseries
from sloplane.dashboards.render import dashboard, datasource_variable, query_variable

TITLES = {"postgres": "PostgreSQL", "redis": "Redis", "rabbitmq": "RabbitMQ", "http": "HTTP probes"}


def exporter_uid(kind: str) -> str:
    return f"sloplane-exporter-{kind}"


def _catalog() -> Any | None:
    try:
        return importlib.import_module("sloplane.exporters.metrics_catalog")
    except ImportError:
        return None


def known_metrics() -> dict[str, list[str]]:
    """The exporters' ``KNOWN_METRICS`` (kind -> series names), empty if unavailable."""
    module = _catalog()
    return dict(getattr(module, "KNOWN_METRICS", {})) if module else {}


def _unit(name: str, type_: str) -> str:
    if "_seconds" in name:
        return "s"
    if name.endswith("_bytes"):
        return "decbytes" if type_ == "counter" else "bytes"
    if name.endswith("_ratio"):
        return "percentunit"
    return "ops" if type_ == "counter" else "short"


def _family_panel(spec: Any, up_name: str) -> tuple[str, list[tuple[str, str]], str] | None:
    flt = '{instance=~"$instance"}'
    legend = " ".join(["{{instance}}", *("{{" + label + "}}" for label in spec.labels)])
    if spec.type == "gauge" and spec.name != up_name:
        return spec.name, [(f"{spec.name}{flt}", legend)], _unit(spec.name, "gauge")
    if spec.type == "counter":
        expr = f"rate({spec.name}_total{flt}[$__rate_interval])"
        return f"{spec.name} (per second)", [(expr, legend)], _unit(spec.name, "counter")
    if spec.type == "histogram":
        expr = (
            f"histogram_quantile(0.99, sum by (le, instance) "
            f"(rate({spec.name}_bucket{flt}[$__rate_interval])))"
        )
        return f"{spec.name} p99", [(expr, "{{instance}}")], "s"
    return None


def exporter_dashboard(kind: str) -> dict[str, Any] | None:
    module = _catalog()
    if module is None or kind not in getattr(module, "SPECS", {}):
        return None
    prefix = module.PREFIXES.get(kind, kind)
    up_name = f"{prefix}_up"
    layout = Layout()
    layout.add(
        stat(
            "Targets up",
            f'sum({up_name}{{instance=~"$instance"}})',
            "none",
            steps(RED, (1.0, GREEN)),
        ),
        6,
        4,
    )
    layout.add(
        stat(
            "Targets down",
            f'count({up_name}{{instance=~"$instance"}} == 0) or vector(0)',
            "none",
            steps(GREEN, (1.0, RED)),
        ),
        6,
        4,
    )
    layout.newline()
    for spec in module.SPECS[kind]:
        built = _family_panel(spec, up_name)
        if built is None:
            continue
        title, queries, unit = built
        layout.add(timeseries(title, queries, unit, description=spec.help), 12, 7)
    title = TITLES.get(kind, kind)
    return dashboard(
        uid=exporter_uid(kind),
        title=f"Exporters / {title}",
        description=f"Metrics of sloplane's {title} exporter",
        panels=layout.panels,
        variables=[
            datasource_variable(),
            query_variable("instance", "Instance", f"label_values({up_name}, instance)"),
        ],
        tags=["exporter", kind],
        time_from="now-3h",
    )


def exporter_dashboards() -> dict[str, dict[str, Any]]:
    """uid -> dashboard for every exporter kind with metric specs (HTTP middleware excluded)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in TITLES:
        built = exporter_dashboard(kind)
        if built is not None:
            out[exporter_uid(kind)] = built
    return out
