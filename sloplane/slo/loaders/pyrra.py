"""Pyrra's ``pyrra.dev/v1alpha1`` ``ServiceLevelObjective``, mapped field for field onto the model.

* ``spec.target`` (a percent, as text) and ``spec.window`` -> ``objective``, ``window``.
* ``indicator.ratio`` (errors/total) -> an events SLI; ``latency`` (a ``le`` bucket over a
  count) -> a latency SLI (an events SLI with ``good`` when the two selectors are not one
  histogram's); ``latencyNative`` -> a native-histogram latency SLI (``200ms`` -> ``0.2``);
  ``bool_gauge`` -> an availability SLI. ``grouping`` -> ``group_by``.
* ``alerting.disabled`` or ``burnrates: false`` -> both tiers off; ``absent`` (on by default,
  as in Pyrra) -> the no-data alert; ``name`` -> the alert name. Pyrra's critical/warning
  severities stay the alerts' ``severity`` label.
* The service is the label ``pyrra.dev/service``, else ``metadata.namespace``.
  ``metadata.labels`` select the PrometheusRule (``prometheus: k8s``, ``role: alert-rules``)
  and become its labels; ``pyrra.dev/<name>`` labels become SLO labels ``<name>``, as Pyrra
  copies them onto its rules.
* The annotation ``sloplane.dev/burn-rates: pyrra`` reproduces Pyrra's burn-rate table
  (14x, 7x page; 2x, 1x ticket; windows scaled from 28 days) instead of sloplane's.

Fields with no equivalent are named in a warning, never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sloplane.located import Where
from sloplane.slo.durations import format_duration
from sloplane.slo.loaders.common import (
    Report,
    build_slo,
    check_keys,
    expect_duration,
    expect_mapping,
    expect_str,
    line_of,
    string_map,
)
from sloplane.slo.model import OBJECTIVE_DECIMALS, SLO, Source
from sloplane.slo.promql import PromQLError, selectors

API_VERSION = "pyrra.dev/v1alpha1"
KIND = "ServiceLevelObjective"
FORMAT = "pyrra"
LABEL_PREFIX = "pyrra.dev/"
BURN_RATES_ANNOTATION = "sloplane.dev/burn-rates"
_NO_EQUIVALENT = {
    "partial_response_strategy": "Thanos Ruler's partial response strategy is not set by sloplane",
    "performanceOverAccuracy": "sloplane records every window from the source series",
    "ruleOutput": "sloplane writes its own rule files (see --format)",
}


def load(doc: Mapping[Any, Any], file: str, report: Report) -> SLO | None:
    where = Where(file, line=line_of(doc))
    check_keys(doc, ("apiVersion", "kind", "metadata", "spec", "status"), where, report)
    mwhere = where.child("metadata", doc)
    meta = expect_mapping(doc.get("metadata"), mwhere, report) or {}
    name = expect_str(meta.get("name"), mwhere.child("name", meta), report)
    labels = string_map(meta.get("labels"), mwhere.child("labels", meta), report)
    annotations = string_map(meta.get("annotations"), mwhere.child("annotations", meta), report)
    service = labels.get(LABEL_PREFIX + "service") or meta.get("namespace")
    if not isinstance(service, str) or not service:
        report.problems.append(
            mwhere.named(str(name or "")).problem(
                "give metadata.namespace or the label pyrra.dev/service (the service)"
            )
        )
    where = where.named(f"{service}-{name}" if service and name else str(name or ""))
    swhere = where.child("spec", doc)
    spec = expect_mapping(doc.get("spec"), swhere, report)
    if spec is None or name is None or not isinstance(service, str) or not service:
        return None
    before = len(report.problems)
    check_keys(
        spec,
        ("description", "target", "window", "indicator", "alerting", *_NO_EQUIVALENT),
        swhere,
        report,
    )
    for key, why in _NO_EQUIVALENT.items():
        if key in spec:
            report.warnings.append(
                swhere.child(key, spec).problem(f"no sloplane equivalent ({why}); ignored")
            )
    fields = {
        "objective": swhere.child("target", spec),
        "window": swhere.child("window", spec),
        "sli": swhere.child("indicator", spec),
        "alerting": swhere.child("alerting", spec),
        "name": mwhere.child("name", meta),
        "service": mwhere,
        "labels": mwhere.child("labels", meta),
    }
    objective = _target(spec.get("target"), fields["objective"], report)
    window = expect_duration(spec.get("window"), fields["window"], report)
    sli = _indicator(spec.get("indicator"), fields["sli"], fields, report)
    alerting = _alerting(spec.get("alerting"), fields["alerting"], report)
    if annotations.get(BURN_RATES_ANNOTATION) == "pyrra" and window is not None:
        alerting.update(pyrra_windows(window, alerting))
    elif BURN_RATES_ANNOTATION in annotations:
        report.problems.append(
            mwhere.child("annotations", meta).problem(
                f"{BURN_RATES_ANNOTATION} must be 'pyrra' (or left out for sloplane's table)"
            )
        )
    if len(report.problems) > before or None in (objective, window, sli):
        return None
    assert sli is not None
    body: dict[str, Any] = {
        "service": service,
        "name": name,
        "objective": objective,
        "window": window,
        "description": spec.get("description") or "",
        "sli": sli,
        "labels": {
            _label_name(k.removeprefix(LABEL_PREFIX)): v
            for k, v in labels.items()
            if k.startswith(LABEL_PREFIX) and k != LABEL_PREFIX + "service"
        },
        "rule_labels": {k: v for k, v in labels.items() if not k.startswith(LABEL_PREFIX)},
        "alerting": alerting,
        "group_by": sli.pop("group_by", ()),
    }
    team = body["labels"].get("team")
    if team:
        body["team"] = team
    source = Source(file=file, line=where.line, format=FORMAT, spec=API_VERSION)
    return build_slo(body, where, fields, source, report)


def _label_name(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def _target(value: Any, where: Where, report: Report) -> float | None:
    """Pyrra's target is a percent as text ("99.9"); "0.5" means 0.5%, as Pyrra reads it."""
    text = None if isinstance(value, bool) else str(value) if value is not None else None
    try:
        percent = float(text) if text is not None else None
    except ValueError:
        percent = None
    if percent is None:
        report.problems.append(where.problem("missing" if value is None else "expected a percent"))
        return None
    if not 0 < percent < 100:
        report.problems.append(where.problem(f"target {text} is out of range: 0 < target < 100"))
        return None
    if percent < 1:
        report.warnings.append(
            where.problem(f"target {text} is a percent ({text}%), as Pyrra reads it, not a ratio")
        )
    return round(percent / 100, OBJECTIVE_DECIMALS)


_KINDS = ("ratio", "latency", "latencyNative", "bool_gauge")


def _indicator(
    value: Any, where: Where, fields: dict[str, Where], report: Report
) -> dict[str, Any] | None:
    data = expect_mapping(value, where, report)
    if data is None:
        return None
    check_keys(data, _KINDS, where, report)
    given = [k for k in _KINDS if data.get(k) is not None]
    if len(given) != 1:
        report.problems.append(
            where.problem("give exactly one of ratio, latency, latencyNative or bool_gauge")
        )
        return None
    kind = given[0]
    kwhere = where.child(kind, data)
    body = expect_mapping(data[kind], kwhere, report)
    if body is None:
        return None
    grouping = _grouping(body.get("grouping"), kwhere.child("grouping", body), report)
    fields["group_by"] = kwhere.child("grouping", body)
    if kind == "ratio":
        check_keys(body, ("errors", "total", "grouping"), kwhere, report)
        errors = _metric(body, "errors", kwhere, fields, "sli.errors", report)
        total = _metric(body, "total", kwhere, fields, "sli.total", report)
        if errors is None or total is None:
            return None
        return {"kind": "events", "errors": errors, "total": total, "group_by": grouping}
    if kind == "latency":
        check_keys(body, ("success", "total", "grouping"), kwhere, report)
        success = _metric(body, "success", kwhere, fields, "sli.good", report)
        total = _metric(body, "total", kwhere, fields, "sli.total", report)
        if success is None or total is None:
            return None
        return {**_latency(success, total), "group_by": grouping}
    if kind == "latencyNative":
        check_keys(body, ("latency", "total", "grouping"), kwhere, report)
        total = _metric(body, "total", kwhere, fields, "sli.metric", report)
        lwhere = kwhere.child("latency", body)
        seconds = _seconds(body.get("latency"), lwhere, report)
        if total is None or seconds is None:
            return None
        fields["sli.threshold"] = lwhere
        return {**_native(total, seconds, fields["sli.metric"], report), "group_by": grouping}
    check_keys(body, ("metric", "grouping"), kwhere, report)
    gauge = expect_str(body.get("metric"), kwhere.child("metric", body), report)
    fields["sli.gauge"] = kwhere.child("metric", body)
    if gauge is None:
        return None
    return {"kind": "availability", "gauge": gauge, "group_by": grouping}


def _grouping(value: Any, where: Where, report: Report) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    report.problems.append(where.problem("expected a list of label names"))
    return ()


def _metric(
    body: Mapping[Any, Any],
    key: str,
    where: Where,
    fields: dict[str, Where],
    model_path: str,
    report: Report,
) -> str | None:
    qwhere = where.child(key, body)
    query = expect_mapping(body.get(key), qwhere, report)
    if query is None:
        return None
    check_keys(query, ("metric",), qwhere, report)
    fields[model_path] = qwhere.child("metric", query)
    return expect_str(query.get("metric"), fields[model_path], report)


def _latency(success: str, total: str) -> dict[str, Any]:
    """A latency SLI when success is ``<h>_bucket{le=...}`` and total ``<h>_count`` with the
    same other matchers; otherwise the two counters as written (good over total)."""
    try:
        (good_name, good_matchers), *rest_good = selectors(success)
        (total_name, total_matchers), *rest_total = selectors(total)
    except (PromQLError, ValueError):
        return {"kind": "events", "good": success, "total": total}
    base = good_name.removesuffix("_bucket")
    le = [v for label, op, v in good_matchers if label == "le" and op == "="]
    others = sorted(m for m in good_matchers if m[0] != "le")
    if (
        rest_good
        or rest_total
        or not good_name.endswith("_bucket")
        or total_name != f"{base}_count"
        or len(le) != 1
        or others != sorted(total_matchers)
    ):
        return {"kind": "events", "good": success, "total": total}
    return {"kind": "latency", "metric": base, "threshold": le[0], "selector": _matchers(others)}


def _native(total: str, seconds: float, where: Where, report: Report) -> dict[str, Any]:
    try:
        found = selectors(total)
    except (PromQLError, ValueError):
        found = []
    if len(found) != 1 or not found[0][0]:
        report.problems.append(where.problem("give the native histogram as one series selector"))
        return {"kind": "latency", "metric": "", "threshold": "0"}
    ((name, matchers),) = found
    return {
        "kind": "latency",
        "metric": name,
        "threshold": repr(seconds) if seconds % 1 else str(int(seconds)),
        "selector": _matchers(matchers),
        "native": True,
    }


def _matchers(matchers: list[tuple[str, str, str]]) -> str:
    from sloplane.slo.naming import escape_label_value

    return ",".join(f'{label}{op}"{escape_label_value(value)}"' for label, op, value in matchers)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(value: Any, where: Where, report: Report) -> float | None:
    text = expect_str(value, where, report)
    if text is None:
        return None
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)\s*", text)
    if not found:
        report.problems.append(where.problem(f"{text!r} is not a latency such as 200ms or 1s"))
        return None
    return round(float(found.group(1)) * _UNITS[found.group(2)], 9)


def _alerting(value: Any, where: Where, report: Report) -> dict[str, Any]:
    # Pyrra's alerts carry severity critical (page) and warning (ticket): kept, so routes on them hold.
    out: dict[str, Any] = {
        "page": {"labels": {"severity": "critical"}},
        "ticket": {"labels": {"severity": "warning"}},
        "no_data": {"enabled": True, "severity": "page"},
    }
    if value is None:
        return out
    data = expect_mapping(value, where, report)
    if data is None:
        return out
    check_keys(data, ("name", "disabled", "burnrates", "absent", "absentName"), where, report)
    flags = {}
    for key in ("disabled", "burnrates", "absent"):
        flag = data.get(key)
        if flag is not None and not isinstance(flag, bool):
            report.problems.append(where.child(key, data).problem("expected true or false"))
        flags[key] = flag
    if flags["disabled"] is True or flags["burnrates"] is False:
        out["page"]["enabled"] = out["ticket"]["enabled"] = False
    if flags["absent"] is False or flags["disabled"] is True:
        out["no_data"]["enabled"] = False
    if data.get("name") is not None:
        out["name"] = expect_str(data["name"], where.child("name", data), report)
    if data.get("absentName") is not None:
        report.warnings.append(
            where.child("absentName", data).problem(
                "no sloplane equivalent (the no-data alert is named <SLO id>SLINoData); ignored"
            )
        )
    return out


# Pyrra's table for a 28-day window: (tier, long, short, factor); scaled with the window.
PYRRA_TABLE = (
    ("page", 3600, 300, 14.0),
    ("page", 6 * 3600, 1800, 7.0),
    ("ticket", 86400, 2 * 3600, 2.0),
    ("ticket", 4 * 86400, 6 * 3600, 1.0),
)
_PYRRA_BASE = 28 * 86400


def pyrra_windows(window: int, alerting: dict[str, Any]) -> dict[str, Any]:
    """Explicit page/ticket windows reproducing Pyrra's burn-rate table for ``window``.

    Pyrra scales its 28-day windows with the SLO window, rounded to the minute, and keeps
    the factors (14, 7, 2, 1). Its ``for:`` (half the short window) is not reproduced:
    a sloplane alert fires when both windows burn (see docs/inputs.md).
    """
    out = {tier: dict(alerting.get(tier, {})) for tier in ("page", "ticket")}
    for tier in out:
        out[tier]["windows"] = [
            {
                "long": format_duration(_scaled(long, window)),
                "short": format_duration(_scaled(short, window)),
                "factor": factor,
            }
            for t, long, short, factor in PYRRA_TABLE
            if t == tier
        ]
    return out


def _scaled(seconds: int, window: int) -> int:
    return max(60, round(seconds * window / _PYRRA_BASE / 60) * 60)
