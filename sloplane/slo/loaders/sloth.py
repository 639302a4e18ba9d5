"""Sloth specs: ``version: "prometheus/v1"`` files and the ``PrometheusServiceLevel`` CRD.

Both share one shape; the CRD spells keys in camelCase (``errorQuery``), the plain
spec in snake_case (``error_query``). Sloth itself has accepted both spellings in
places, so either spelling is accepted at every level. Sloth has no per-SLO window
in these specs: the generator's period is used (30 days, or ``--default-slo-period``;
see :mod:`sloplane.slo.loaders.sloth_windows`). Plugins cannot be run here: an SLI
plugin is a problem, SLO plugin chains and rule-group intervals are ignored with a
warning. ``info_labels`` go onto the info series only, as in Sloth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sloplane.located import Where
from sloplane.slo.loaders.common import (
    Report,
    build_slo,
    check_keys,
    expect_list,
    expect_mapping,
    expect_str,
    line_of,
    string_map,
)
from sloplane.slo.model import SLO, Source

FORMAT = "sloth"
VERSION = "prometheus/v1"
CRD_API_VERSION = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"
DEFAULT_PERIOD = 30 * 86400  # Sloth's --default-slo-period

_SPEC_KEYS = ("service", "labels", "slos", "slo_plugins")
_SLO_KEYS = (
    "name",
    "objective",
    "description",
    "labels",
    "info_labels",
    "sli",
    "alerting",
    "interval",
    "plugins",
)
_IGNORED_SLO_KEYS = {
    "interval": "rule group intervals are set by sloplane",
    "plugins": "SLO plugins are not supported",
}


def snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def normalized(data: Mapping[Any, Any], where: Where, report: Report) -> dict[str, Any]:
    """The mapping with snake_case keys; both spellings of one key is a problem."""
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in data.items():
        name = snake(key) if isinstance(key, str) else key
        if name in out:
            report.problems.append(
                where.child(str(key), data).problem(f"{key!r} repeats {seen[name]!r}")
            )
            continue
        out[name] = value
        seen[name] = str(key)
    return out


def _child(where: Where, data: Mapping[Any, Any], key: str) -> Where:
    """Where of ``key`` in ``data``, whichever spelling the user chose."""
    for original in data:
        if isinstance(original, str) and snake(original) == key:
            return where.child(original, data)
    return where.child(key, data)


def load_spec(
    doc: Mapping[Any, Any], file: str, report: Report, period: int = DEFAULT_PERIOD
) -> list[SLO]:
    """Load a ``prometheus/v1`` document."""
    where = Where(file, line=line_of(doc))
    data = normalized(doc, where, report)
    check_keys(doc, ("version", *_SPEC_KEYS), where, report, snake)
    return _load_service(doc, data, where, report, (VERSION, period))


def load_crd(
    doc: Mapping[Any, Any], file: str, report: Report, period: int = DEFAULT_PERIOD
) -> list[SLO]:
    """Load a ``sloth.slok.dev/v1`` ``PrometheusServiceLevel`` document."""
    where = Where(file, line=line_of(doc))
    check_keys(doc, ("apiVersion", "kind", "metadata", "spec", "status"), where, report)
    spec_where = where.child("spec", doc)
    spec = expect_mapping(doc.get("spec"), spec_where, report)
    if spec is None:
        return []
    data = normalized(spec, spec_where, report)
    check_keys(spec, _SPEC_KEYS, spec_where, report, snake)
    return _load_service(spec, data, spec_where, report, (CRD_API_VERSION, period))


def _load_service(
    raw: Mapping[Any, Any],
    data: dict[str, Any],
    where: Where,
    report: Report,
    spec: tuple[str, int],
) -> list[SLO]:
    service = expect_str(data.get("service"), _child(where, raw, "service"), report)
    labels = string_map(data.get("labels"), _child(where, raw, "labels"), report)
    if "slo_plugins" in data:
        report.warnings.append(
            _child(where, raw, "slo_plugins").problem("SLO plugins are not supported; ignored")
        )
    slos_where = _child(where, raw, "slos")
    items = expect_list(data.get("slos"), slos_where, report)
    if items is None:
        return []
    out = []
    for index, item in enumerate(items):
        slo = _load_slo(item, service, labels, slos_where.child(index, items), report, spec)
        if slo is not None:
            out.append(slo)
    return out


def _load_slo(
    item: Any,
    service: str | None,
    service_labels: dict[str, str],
    where: Where,
    report: Report,
    spec: tuple[str, int],
) -> SLO | None:
    raw = expect_mapping(item, where, report)
    if raw is None:
        return None
    data = normalized(raw, where, report)
    name = data.get("name")
    if isinstance(service, str) and isinstance(name, str):
        where = where.named(f"{service}-{name}")
    elif isinstance(name, str):
        where = where.named(name)
    check_keys(raw, _SLO_KEYS, where, report, snake)
    for key, why in _IGNORED_SLO_KEYS.items():
        if key in data:
            report.warnings.append(_child(where, raw, key).problem(f"{why}; ignored"))
    before = len(report.problems)
    fields = {k: _child(where, raw, k) for k in ("name", "objective", "description", "labels")}
    fields["service"] = where
    labels = {**service_labels, **string_map(data.get("labels"), fields["labels"], report)}
    fields["info_labels"] = _child(where, raw, "info_labels")
    info_labels = string_map(data.get("info_labels"), fields["info_labels"], report)
    sli = _sli(data.get("sli"), _child(where, raw, "sli"), fields, report)
    alerting = _alerting(data.get("alerting"), _child(where, raw, "alerting"), fields, report)
    if len(report.problems) > before or service is None or sli is None:
        if sli is None and len(report.problems) == before:
            report.problems.append(_child(where, raw, "sli").problem("missing"))
        return None
    annotations = alerting.get("annotations", {})
    body: dict[str, Any] = {
        "service": service,
        "name": name,
        "objective": data.get("objective"),
        "window": spec[1],
        "description": data.get("description") or "",
        "labels": labels,
        "info_labels": info_labels,
        "sli": sli,
        "alerting": alerting,
        "team": labels.get("team") or labels.get("owner"),
        "runbook_url": annotations.get("runbook_url") or annotations.get("runbook"),
    }
    source = Source(file=where.file, line=where.line, format=FORMAT, spec=spec[0])
    # an absent name or objective is "missing", not "Input should be a valid string"
    present = {key: value for key, value in body.items() if value is not None}
    return build_slo(present, where, fields, source, report)


def _sli(
    value: Any, where: Where, fields: dict[str, Where], report: Report
) -> dict[str, Any] | None:
    raw = expect_mapping(value, where, report)
    if raw is None:
        return None
    data = normalized(raw, where, report)
    check_keys(raw, ("events", "raw", "plugin"), where, report, snake)
    given = [k for k in ("events", "raw", "plugin") if k in data]
    if len(given) != 1:
        report.problems.append(where.problem("give exactly one of 'events', 'raw' or 'plugin'"))
        return None
    kind = given[0]
    kwhere = _child(where, raw, kind)
    if kind == "plugin":
        report.problems.append(
            kwhere.problem("SLI plugins are not supported: write the queries as 'events' or 'raw'")
        )
        return None
    body = expect_mapping(data[kind], kwhere, report)
    if body is None:
        return None
    queries = normalized(body, kwhere, report)
    if kind == "events":
        check_keys(body, ("error_query", "total_query"), kwhere, report, snake)
        errors = expect_str(queries.get("error_query"), _child(kwhere, body, "error_query"), report)
        total = expect_str(queries.get("total_query"), _child(kwhere, body, "total_query"), report)
        fields["sli.errors"] = _child(kwhere, body, "error_query")
        fields["sli.total"] = _child(kwhere, body, "total_query")
        if errors is None or total is None:
            return None
        return {"kind": "events", "errors": errors, "total": total}
    check_keys(body, ("error_ratio_query",), kwhere, report, snake)
    qwhere = _child(kwhere, body, "error_ratio_query")
    fields["sli.error_ratio"] = qwhere
    ratio = expect_str(queries.get("error_ratio_query"), qwhere, report)
    return None if ratio is None else {"kind": "raw", "error_ratio": ratio}


def _alerting(value: Any, where: Where, fields: dict[str, Where], report: Report) -> dict[str, Any]:
    if value is None:
        return {}
    raw = expect_mapping(value, where, report)
    if raw is None:
        return {}
    data = normalized(raw, where, report)
    check_keys(
        raw, ("name", "labels", "annotations", "page_alert", "ticket_alert"), where, report, snake
    )
    lwhere = _child(where, raw, "labels")
    out: dict[str, Any] = {
        "labels": string_map(data.get("labels"), lwhere, report),
        "annotations": string_map(
            data.get("annotations"), _child(where, raw, "annotations"), report
        ),
    }
    fields["alerting"] = where
    if data.get("name") is not None:
        out["name"] = expect_str(data.get("name"), _child(where, raw, "name"), report)
        fields["alerting.name"] = _child(where, raw, "name")
    for key, tier in (("page_alert", "page"), ("ticket_alert", "ticket")):
        if data.get(key) is not None:
            twhere = _child(where, raw, key)
            fields[f"alerting.{tier}"] = twhere
            out[tier] = _tier(data[key], twhere, report)
    return out


def _tier(value: Any, where: Where, report: Report) -> dict[str, Any]:
    raw = expect_mapping(value, where, report)
    if raw is None:
        return {}
    data = normalized(raw, where, report)
    check_keys(raw, ("disable", "labels", "annotations", "for"), where, report, snake)
    if "for" in data:
        report.warnings.append(
            _child(where, raw, "for").problem(
                "'for' is not supported: burn-rate alerts fire when both windows burn; ignored"
            )
        )
    disable = data.get("disable", False)
    if not isinstance(disable, bool):
        report.problems.append(_child(where, raw, "disable").problem("expected true or false"))
        disable = False
    lwhere = _child(where, raw, "labels")
    labels = string_map(data.get("labels"), lwhere, report)
    return {
        "enabled": not disable,
        "labels": labels,
        "annotations": string_map(
            data.get("annotations"), _child(where, raw, "annotations"), report
        ),
    }
