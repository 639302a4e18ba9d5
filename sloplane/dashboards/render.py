"""Dashboards to deterministic JSON, with a current schema and template variables.

grafanalib still emits ``schemaVersion`` 12 and many ``null`` keys; Grafana
migrates such dashboards on load, which shows up as a diff after every save. We
emit a current schema, drop nulls, number panels in layout order and sort keys,
so the same SLOs always produce the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import grafanalib.core as g
from grafanalib._gen import DashboardEncoder

from sloplane.artifacts import HEADER

SCHEMA_VERSION = 39
TAG = "sloplane"


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def custom_variable(
    name: str, label: str, values: Sequence[str], multi: bool = False, hide: int = 0
) -> dict[str, Any]:
    """A variable with fixed values (``,`` separated in Grafana's ``query``)."""
    text = ",".join(v.replace(",", "\\,") for v in values)
    options = [
        {"text": v, "value": v, "selected": i == 0 and not multi} for i, v in enumerate(values)
    ]
    current: dict[str, Any]
    if multi:
        options.insert(0, {"text": "All", "value": "$__all", "selected": True})
        current = {"text": ["All"], "value": ["$__all"]}
    else:
        current = {"text": values[0], "value": values[0]} if values else {}
    return {
        "name": name,
        "label": label,
        "type": "custom",
        "query": text,
        "multi": multi,
        "includeAll": multi,
        "allValue": ".+" if multi else None,
        "current": current,
        "options": options,
        "hide": hide,
    }


def query_variable(name: str, label: str, query: str, multi: bool = True) -> dict[str, Any]:
    """A variable whose values come from Prometheus (``label_values(...)``)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "multi": multi,
        "includeAll": multi,
        "allValue": ".+" if multi else None,
        "current": {"text": ["All"], "value": ["$__all"]} if multi else {},
        "options": [],
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "regex": "",
    }


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    panels: list[g.Panel],
    variables: list[dict[str, Any]],
    tags: Sequence[str] = (),
    links: Sequence[dict[str, Any]] = (),
    time_from: str = "now-6h",
    id_label: str = "sloplane_id",
    alert_filter: str = "",
) -> dict[str, Any]:
    """The dashboard as a JSON-ready dict.

    ``alert_filter`` (PromQL matchers, e.g. ``sloplane_service="api"``) narrows the
    alert annotation to the alerts this dashboard is about.
    """
    dash = g.Dashboard(
        title=title,
        uid=uid,
        description=f"{description} ({HEADER})",
        panels=panels,
        tags=sorted({TAG, *tags}),
        timezone="utc",
        refresh="1m",
        time=g.Time(time_from, "now"),
        templating=g.Templating(list=list(variables)),
        editable=False,
        graphTooltip=1,
    )
    data = json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder))
    data = _clean(data)
    data["schemaVersion"] = SCHEMA_VERSION
    data["version"] = 1
    data["links"] = list(links)
    data["annotations"] = {"list": [_alerts_annotation(id_label, alert_filter)]}
    data["fiscalYearStartMonth"] = 0
    data["liveNow"] = False
    data["weekStart"] = ""
    data.pop("rows", None)
    data.pop("style", None)
    data.pop("sharedCrosshair", None)
    data.pop("hideControls", None)
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
        _modernise(panel)
    return data


def _alerts_annotation(id_label: str, alert_filter: str = "") -> dict[str, Any]:
    """Marks when sloplane's alerts fired, on every time-series panel."""
    matchers = ", ".join(m for m in ('alertstate="firing"', f'{id_label}!=""', alert_filter) if m)
    return {
        "name": "SLO alerts",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "enable": True,
        "iconColor": "red",
        "expr": "ALERTS{" + matchers + "}",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}}",
        "tagKeys": "severity",
        "useValueForTime": False,
        "step": "1m",
    }


def _modernise(panel: dict[str, Any]) -> None:
    """Drop grafanalib's legacy keys that current Grafana ignores or migrates away."""
    for key in ("span", "error", "minSpan", "height", "editable", "cacheTimeout", "interval"):
        panel.pop(key, None)
    field_config = panel.get("fieldConfig", {})
    defaults = field_config.get("defaults", {})
    if panel.get("type") == "gauge":
        for key in ("calcs", "limit", "override", "values", "title", "links"):
            defaults.pop(key, None)
        field_config.pop("showThresholdLabels", None)
        field_config.pop("showThresholdMarkers", None)
        field_config.setdefault("overrides", [])
    if panel.get("type") == "stat":
        defaults.pop("noValue", None)
    if panel.get("type") == "row":
        for key in (
            "targets",
            "transformations",
            "datasource",
            "fieldConfig",
            "maxDataPoints",
            "links",
            "hideTimeOverride",
            "transparent",
        ):
            panel.pop(key, None)
        panel.setdefault("panels", [])
    panel["targets"] = (
        [_target(t) for t in panel.get("targets", [])] if "targets" in panel else None
    )
    if panel["targets"] is None:
        del panel["targets"]


_TARGET_KEYS = ("datasource", "expr", "format", "instant", "legendFormat", "refId")


def _target(target: dict[str, Any]) -> dict[str, Any]:
    out = {k: target[k] for k in _TARGET_KEYS if k in target}
    out["range"] = not out.get("instant", False)
    out["editorMode"] = "code"
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
