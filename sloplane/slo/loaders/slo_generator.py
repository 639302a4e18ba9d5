"""google/slo-generator's SLO configs (``apiVersion: sre.google.com/v2``) with the Prometheus backend.

* ``metadata.labels`` ``service_name`` -> ``service``; ``feature_name`` and ``slo_name`` ->
  ``name`` (``<feature>-<slo>``), else ``metadata.name``; ``spec.goal`` -> ``objective``.
* ``method: good_bad_ratio`` -> an events SLI from ``filter_good`` (or ``filter_bad``) over
  ``filter_valid``; ``query_sli`` -> a raw SLI, the good ratio ``expression`` turned into an
  error ratio (``1 - (...)``) with its ``[window]`` placeholder as ``{{.window}}``;
  ``distribution_cut`` -> a latency SLI: ``expression`` is the histogram's ``_bucket``
  selector, ``threshold_bucket`` the bucket boundary.
* slo-generator has no SLO window of its own (its error-budget policy has several); the
  window is 28 days, the longest step of its default policy, or the annotation
  ``sloplane.dev/window``. Alerting is sloplane's derived table.

A config for another backend (Cloud Monitoring, Datadog, ...) is refused in one line
naming the backend: it is an SLO sloplane cannot compute, never one it drops.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sloplane.located import Where
from sloplane.slo.durations import DurationError, parse_duration
from sloplane.slo.loaders.common import (
    Report,
    build_slo,
    check_keys,
    expect_mapping,
    expect_number,
    expect_str,
    line_of,
    string_map,
)
from sloplane.slo.model import SLO, Source
from sloplane.slo.naming import escape_label_value
from sloplane.slo.promql import PromQLError, selectors

API_VERSION = "sre.google.com/v2"
KIND = "ServiceLevelObjective"
FORMAT = "slo-generator"
DEFAULT_WINDOW = 28 * 86400
WINDOW_ANNOTATION = "sloplane.dev/window"
_SPEC_KEYS = (
    "description",
    "backend",
    "method",
    "exporters",
    "service_level_indicator",
    "goal",
    "error_budget_policy",
)
_WINDOW_RE = re.compile(r"\[\s*window\s*\]")


def load(doc: Mapping[Any, Any], file: str, report: Report) -> SLO | None:
    where = Where(file, line=line_of(doc))
    check_keys(doc, ("apiVersion", "kind", "metadata", "spec"), where, report)
    mwhere = where.child("metadata", doc)
    meta = expect_mapping(doc.get("metadata"), mwhere, report) or {}
    labels = string_map(meta.get("labels"), mwhere.child("labels", meta), report)
    annotations = string_map(meta.get("annotations"), mwhere.child("annotations", meta), report)
    service, name = _names(meta, labels)
    where = where.named(f"{service}-{name}" if service and name else name or "")
    mwhere = mwhere.named(where.obj)
    swhere = where.child("spec", doc)
    spec = expect_mapping(doc.get("spec"), swhere, report)
    if spec is None:
        return None
    backend = spec.get("backend")
    if not (isinstance(backend, str) and backend.split("/", 1)[0].lower() == "prometheus"):
        report.problems.append(
            swhere.child("backend", spec).problem(
                f"backend {backend!r} is not supported: sloplane reads slo-generator SLOs "
                "with the prometheus backend only"
            )
        )
        return None
    before = len(report.problems)
    check_keys(spec, _SPEC_KEYS, swhere, report)
    if not service:
        report.problems.append(
            mwhere.child("labels", meta).problem("give the label service_name (the service)")
        )
    fields = {
        "objective": swhere.child("goal", spec),
        "sli": swhere.child("service_level_indicator", spec),
        "name": mwhere,
        "service": mwhere.child("labels", meta),
        "window": mwhere.child("annotations", meta),
    }
    goal = expect_number(spec.get("goal"), fields["objective"], report)
    window = _window(annotations.get(WINDOW_ANNOTATION), fields["window"], report)
    sli = _sli(spec, swhere, fields, report)
    if len(report.problems) > before or None in (goal, window, sli, service, name):
        return None
    body = {
        "service": service,
        "name": name,
        "objective": goal,
        "window": window,
        "description": spec.get("description") or "",
        "sli": sli,
        "labels": {k: v for k, v in labels.items() if k not in _NAME_LABELS},
    }
    source = Source(file=file, line=where.line, format=FORMAT, spec=API_VERSION)
    return build_slo(body, where, fields, source, report)


_NAME_LABELS = ("service_name", "feature_name", "slo_name")


def _names(meta: Mapping[Any, Any], labels: dict[str, str]) -> tuple[str | None, str | None]:
    service = labels.get("service_name")
    feature, slo = labels.get("feature_name"), labels.get("slo_name")
    name: str | None
    if slo:
        name = f"{feature}-{slo}" if feature else slo
    else:
        raw = meta.get("name")
        name = raw if isinstance(raw, str) and raw else None
        if name and service and name.startswith(f"{service}-"):
            name = name.removeprefix(f"{service}-")
    return service, name


def _window(value: str | None, where: Where, report: Report) -> int | None:
    if value is None:
        return DEFAULT_WINDOW
    try:
        return parse_duration(value)
    except DurationError as exc:
        report.problems.append(where.problem(f"{WINDOW_ANNOTATION}: {exc}"))
        return None


def _sli(
    spec: Mapping[Any, Any], where: Where, fields: dict[str, Where], report: Report
) -> dict[str, Any] | None:
    method = spec.get("method")
    iwhere = where.child("service_level_indicator", spec)
    data = expect_mapping(spec.get("service_level_indicator"), iwhere, report)
    if data is None:
        return None
    if method == "good_bad_ratio":
        check_keys(data, ("filter_good", "filter_bad", "filter_valid"), iwhere, report)
        given = [k for k in ("filter_good", "filter_bad") if data.get(k) is not None]
        if len(given) != 1 or data.get("filter_valid") is None:
            report.problems.append(
                iwhere.problem("give filter_valid and exactly one of filter_good or filter_bad")
            )
            return None
        key = "good" if given[0] == "filter_good" else "errors"
        fields[f"sli.{key}"] = iwhere.child(given[0], data)
        fields["sli.total"] = iwhere.child("filter_valid", data)
        numerator = expect_str(data[given[0]], fields[f"sli.{key}"], report)
        total = expect_str(data["filter_valid"], fields["sli.total"], report)
        if numerator is None or total is None:
            return None
        return {"kind": "events", key: numerator, "total": total}
    if method == "query_sli":
        check_keys(data, ("expression",), iwhere, report)
        qwhere = iwhere.child("expression", data)
        fields["sli.error_ratio"] = qwhere
        expression = expect_str(data.get("expression"), qwhere, report)
        if expression is None:
            return None
        if not _WINDOW_RE.search(expression):
            report.problems.append(qwhere.problem("the expression must use the [window] range"))
            return None
        templated = _WINDOW_RE.sub("[{{.window}}]", expression.strip())
        return {"kind": "raw", "error_ratio": f"1 - (\n{templated}\n)"}
    if method == "distribution_cut":
        return _distribution_cut(data, iwhere, fields, report)
    report.problems.append(
        where.child("method", spec).problem(
            f"method {method!r} is not supported: use good_bad_ratio, query_sli or distribution_cut"
        )
    )
    return None


def _distribution_cut(
    data: Mapping[Any, Any], where: Where, fields: dict[str, Where], report: Report
) -> dict[str, Any] | None:
    check_keys(data, ("expression", "threshold_bucket", "good_below_threshold"), where, report)
    qwhere = where.child("expression", data)
    fields["sli.metric"] = qwhere
    fields["sli.threshold"] = where.child("threshold_bucket", data)
    query = expect_str(data.get("expression"), qwhere, report)
    threshold = expect_number(data.get("threshold_bucket"), fields["sli.threshold"], report)
    if query is None or threshold is None:
        return None
    if data.get("good_below_threshold", True) is not True:
        report.problems.append(
            where.child("good_below_threshold", data).problem(
                "only good_below_threshold: true (fast is good) is supported"
            )
        )
        return None
    try:
        (name, matchers), *rest = selectors(query)
    except (PromQLError, ValueError):
        name, rest, matchers = "", [], []
    if not name.endswith("_bucket") or rest or any(m[0] == "le" for m in matchers):
        report.problems.append(
            qwhere.problem(
                "give the histogram's bucket series without 'le' "
                '(http_request_duration_seconds_bucket{job="api"})'
            )
        )
        return None
    raw = data.get("threshold_bucket")
    return {
        "kind": "latency",
        "metric": name.removesuffix("_bucket"),
        "threshold": raw if isinstance(raw, str) else threshold,
        "selector": ",".join(f'{k}{op}"{escape_label_value(v)}"' for k, op, v in matchers),
    }
