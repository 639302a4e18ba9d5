"""OpenSLO v1 (``apiVersion: openslo/v1``): SLO, SLI, Service, DataSource, AlertPolicy, AlertCondition.

Objects may reference each other across files (``indicatorRef``,
``alertPolicyRef``, ``conditionRef``, a DataSource's ``metricSourceRef``), so all
OpenSLO documents are collected first and resolved together. The mapping onto the
sloplane model is documented in docs/inputs.md; the short version:

* ``ratioMetric`` good/bad + total -> an events SLI, queries kept as written (the
  compiler windows them with :func:`sloplane.slo.promql.window_query`);
  ``raw`` + ``rawType`` -> a raw error-ratio SLI averaged over the window;
  ``thresholdMetric`` on a histogram ``_bucket`` series with ``op: lt|lte`` and a
  ``value`` -> a latency SLI with ``threshold = value``.
* one sloplane SLO per objective; with several objectives each is named
  ``<slo>-<objective displayName or index>``.
* ``burnrate`` alert conditions -> explicit page/ticket windows: ``lookbackWindow``
  is the long window, ``alertAfter`` the short one (default long/12),
  ``threshold`` the burn factor, ``severity`` picks the tier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sloplane.located import Where
from sloplane.slo.durations import DurationError, format_duration, parse_duration
from sloplane.slo.loaders.common import (
    Report,
    build_slo,
    check_keys,
    expect_duration,
    expect_list,
    expect_mapping,
    expect_number,
    expect_str,
    line_of,
    string_map,
)
from sloplane.slo.model import OBJECTIVE_DECIMALS, SLO, Source, objective_rounding_problem
from sloplane.slo.naming import escape_label_value
from sloplane.slo.promql import PromQLError, has_placeholder, parse_error, selectors
from sloplane.yamldoc import type_name

API_VERSION = "openslo/v1"
FORMAT = "openslo"
KINDS = (
    "SLO",
    "SLI",
    "Service",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
)
ANNOTATION_PREFIX = "sloplane.dev/"
PAGE_SEVERITIES = {"page", "critical", "sev1", "sev-1", "p1", "high", "urgent", "emergency"}
TICKET_SEVERITIES = {
    "ticket",
    "warning",
    "sev2",
    "sev-2",
    "sev3",
    "sev-3",
    "p2",
    "p3",
    "p4",
    "medium",
    "low",
    "info",
}


@dataclass(frozen=True)
class RawDoc:
    doc: Mapping[Any, Any]
    file: str
    line: int


@dataclass(frozen=True)
class _Obj:
    kind: str
    name: str
    metadata: Mapping[Any, Any]
    spec: Mapping[Any, Any]
    where: Where


class _Index:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], _Obj] = {}

    def get(self, kind: str, name: str) -> _Obj | None:
        return self.objects.get((kind, name))

    def has_kind(self, kind: str) -> bool:
        return any(k == kind for k, _ in self.objects)


def load(docs: list[RawDoc], report: Report) -> list[SLO]:
    index = _Index()
    slos: list[_Obj] = []
    for raw in docs:
        obj = _envelope(raw, report)
        if obj is None:
            continue
        key = (obj.kind, obj.name)
        if key in index.objects:
            other = index.objects[key].where
            report.problems.append(
                obj.where.problem(
                    f"{obj.kind} {obj.name!r} is also defined in {other.file}:{other.line}",
                    "metadata.name",
                )
            )
            continue
        index.objects[key] = obj
        if obj.kind == "SLO":
            slos.append(obj)
    out: list[SLO] = []
    for obj in slos:
        out.extend(_load_slo(obj, index, report))
    return out


def _envelope(raw: RawDoc, report: Report) -> _Obj | None:
    doc = raw.doc
    where = Where(raw.file, line=raw.line)
    check_keys(doc, ("apiVersion", "kind", "metadata", "spec"), where, report)
    kind = doc.get("kind")
    if kind not in KINDS:
        report.problems.append(
            where.child("kind", doc).problem(
                f"unknown OpenSLO kind {kind!r}: expected one of {', '.join(KINDS)}"
            )
        )
        return None
    parsed = _object(doc, where, report, kind)
    if parsed is None:
        return None
    return parsed


def _object(doc: Mapping[Any, Any], where: Where, report: Report, kind: str) -> _Obj | None:
    """An inline or top-level object: metadata.name and spec checked."""
    meta_where = where.child("metadata", doc)
    metadata = expect_mapping(doc.get("metadata"), meta_where, report)
    if metadata is None:
        return None
    check_keys(metadata, ("name", "displayName", "labels", "annotations"), meta_where, report)
    name = expect_str(metadata.get("name"), meta_where.child("name", metadata), report)
    if kind == "Service" and doc.get("spec") is None:
        spec: Mapping[Any, Any] | None = {}  # the go-sdk reads a Service without spec
    else:
        spec = expect_mapping(doc.get("spec"), where.child("spec", doc), report)
    if name is None or spec is None:
        return None
    return _Obj(kind, name, metadata, spec, where.named(f"{kind}/{name}"))


# -- SLO ---------------------------------------------------------------------------

_SLO_KEYS = (
    "description",
    "service",
    "indicator",
    "indicatorRef",
    "timeWindow",
    "budgetingMethod",
    "objectives",
    "alertPolicies",
)


def _load_slo(obj: _Obj, index: _Index, report: Report) -> list[SLO]:
    spec = obj.spec
    where = Where(obj.where.file, obj.where.obj, "spec", line_of(spec) or obj.where.line)
    before = len(report.problems)
    check_keys(spec, _SLO_KEYS, where, report)
    service = _service(spec, where, index, report)
    window = _time_window(spec, where, report)
    _budgeting(spec, where, report)
    indicator = _indicator(spec, where, index, report)
    objectives = _objectives(spec, where, report)
    alerting = _alerting(spec, where, index, report)
    meta = _metadata(obj, report)
    if len(report.problems) > before or None in (service, window, indicator, objectives):
        return []
    assert indicator is not None and objectives is not None
    out = []
    mwhere = _meta_where(obj)
    for objective, owhere, suffix in objectives:
        name = obj.name if len(objectives) == 1 else f"{obj.name}-{suffix}"
        slo_where = owhere.named(f"{service}-{name}")
        sli = _sli_for(indicator, objective, slo_where, report)
        if sli is None:
            continue
        body: dict[str, Any] = {
            "service": service,
            "name": name,
            "objective": objective["ratio"],
            "window": window,
            "sli": sli,
            "alerting": alerting,
            **meta,
        }
        if not body.get("description"):
            body["description"] = spec.get("description") or obj.metadata.get("displayName") or ""
        fields = {
            "service": where.child("service", spec),
            "name": mwhere.child("name", obj.metadata),
            "objective": owhere,
            "window": where.child("timeWindow", spec),
            "sli": indicator.where,
            "labels": mwhere.child("labels", obj.metadata),
            "group_by": mwhere.child("annotations", obj.metadata),
            "alerting": where.child("alertPolicies", spec),
        }
        source = Source(file=obj.where.file, line=obj.where.line, format=FORMAT)
        slo = build_slo(body, slo_where.named(f"{service}-{name}"), fields, source, report)
        if slo is not None:
            out.append(slo)
    return out


def _service(spec: Mapping[Any, Any], where: Where, index: _Index, report: Report) -> str | None:
    swhere = where.child("service", spec)
    service = expect_str(spec.get("service"), swhere, report)
    if service is not None and index.has_kind("Service") and index.get("Service", service) is None:
        report.problems.append(
            swhere.problem(f"service {service!r} does not resolve to a Service object")
        )
    return service


def _time_window(spec: Mapping[Any, Any], where: Where, report: Report) -> int | None:
    if spec.get("timeWindow") is None:
        return 30 * 86400
    twhere = where.child("timeWindow", spec)
    items = expect_list(spec["timeWindow"], twhere, report)
    if items is None:
        return None
    if len(items) != 1:
        report.problems.append(twhere.problem("give exactly one time window"))
        return None
    iwhere = twhere.child(0, items)
    item = expect_mapping(items[0], iwhere, report)
    if item is None:
        return None
    check_keys(item, ("duration", "isRolling", "calendar"), iwhere, report)
    if item.get("calendar") is not None or item.get("isRolling") is False:
        report.problems.append(
            iwhere.problem("calendar-aligned windows are not supported: use isRolling: true")
        )
        return None
    dwhere = iwhere.child("duration", item)
    duration = expect_str(item.get("duration"), dwhere, report)
    if duration is None:
        return None
    try:
        return parse_duration(duration)
    except DurationError:
        report.problems.append(
            dwhere.problem(
                f"unsupported duration {duration!r}: use m, h, d or w (months, quarters and "
                "years have no fixed length)"
            )
        )
        return None


def _budgeting(spec: Mapping[Any, Any], where: Where, report: Report) -> None:
    method = spec.get("budgetingMethod")
    bwhere = where.child("budgetingMethod", spec)
    if method is None:
        report.warnings.append(bwhere.problem("missing: assuming Occurrences"))
    elif method != "Occurrences":
        report.problems.append(
            bwhere.problem(
                f"budgetingMethod {method!r} is not supported: sloplane budgets by "
                "Occurrences (events), not time slices"
            )
        )


def _objectives(
    spec: Mapping[Any, Any], where: Where, report: Report
) -> list[tuple[dict[str, Any], Where, str]] | None:
    owhere = where.child("objectives", spec)
    items = expect_list(spec.get("objectives"), owhere, report)
    if items is None:
        return None
    if not items:
        report.problems.append(owhere.problem("give at least one objective"))
        return None
    out = []
    used: set[str] = set()
    for i, item in enumerate(items):
        iwhere = owhere.child(i, items)
        data = expect_mapping(item, iwhere, report)
        if data is None:
            continue
        check_keys(
            data,
            (
                "displayName",
                "op",
                "value",
                "target",
                "targetPercent",
                "timeSliceTarget",
                "timeSliceWindow",
                "indicator",
                "indicatorRef",
                "compositeWeight",
            ),
            iwhere,
            report,
        )
        composite = [k for k in ("indicator", "indicatorRef", "compositeWeight") if k in data]
        if composite:
            report.problems.append(
                iwhere.child(composite[0], data).problem(
                    "composite SLOs (an indicator per objective) are not supported: write one "
                    "SLO per indicator"
                )
            )
            continue
        objective = _target(data, iwhere, report)
        if objective is None:
            continue
        suffix = _slug(data.get("displayName")) or str(i)
        if suffix in used:
            suffix = f"{suffix}-{i}"
        used.add(suffix)
        out.append((objective, iwhere, suffix))
    return out if len(out) == len(items) else None


def _target(data: Mapping[Any, Any], where: Where, report: Report) -> dict[str, Any] | None:
    has_t, has_p = "target" in data, "targetPercent" in data
    if has_t == has_p:
        report.problems.append(where.problem("give exactly one of 'target' or 'targetPercent'"))
        return None
    key = "target" if has_t else "targetPercent"
    value = expect_number(data.get(key), where.child(key, data), report)
    if value is None:
        return None
    top = 1.0 if has_t else 100.0
    if not 0 < value < top:
        report.problems.append(
            where.child(key, data).problem(f"{key} {value:g} is out of range: 0 < {key} < {top:g}")
        )
        return None
    ratio = value if has_t else value / 100
    rounding = objective_rounding_problem(ratio)
    if rounding is not None:
        report.problems.append(
            where.child(key, data).problem(f"{key} {value!r} is out of range: {rounding}")
        )
        return None
    out: dict[str, Any] = {"ratio": round(ratio, OBJECTIVE_DECIMALS)}
    out["op"] = data.get("op")
    out["value"] = data.get("value")
    out["where"] = where
    out["data"] = data
    return out


def _slug(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return ""
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")


def _meta_where(obj: _Obj) -> Where:
    return Where(obj.where.file, obj.where.obj, "metadata", line_of(obj.metadata) or obj.where.line)


def _metadata(obj: _Obj, report: Report) -> dict[str, Any]:
    mwhere = _meta_where(obj)
    labels = string_map(obj.metadata.get("labels"), mwhere.child("labels", obj.metadata), report)
    annotations = string_map(
        obj.metadata.get("annotations"), mwhere.child("annotations", obj.metadata), report
    )
    out: dict[str, Any] = {"labels": {_label_name(k): v for k, v in labels.items()}}
    team = annotations.get(ANNOTATION_PREFIX + "team") or labels.get("team")
    if team:
        out["team"] = team
    for key, field in (("runbook-url", "runbook_url"), ("dashboard-url", "dashboard_url")):
        if annotations.get(ANNOTATION_PREFIX + key):
            out[field] = annotations[ANNOTATION_PREFIX + key]
    group_by = annotations.get(ANNOTATION_PREFIX + "group-by")
    if group_by:
        out["group_by"] = tuple(p.strip() for p in group_by.split(",") if p.strip())
    if annotations.get(ANNOTATION_PREFIX + "description"):
        out["description"] = annotations[ANNOTATION_PREFIX + "description"]
    return out


def _label_name(key: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return f"_{name}" if name[:1].isdigit() else name


# -- SLI ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Indicator:
    kind: str  # "ratio", "raw", "threshold"
    queries: dict[str, str]
    query_where: dict[str, Where]
    where: Where
    raw_type: str = "failure"


def _indicator(
    spec: Mapping[Any, Any], where: Where, index: _Index, report: Report
) -> _Indicator | None:
    if not _one_of(spec, "indicator", "indicatorRef", where, report):
        return None
    ref = spec.get("indicatorRef")
    if ref is not None:
        rwhere = where.child("indicatorRef", spec)
        name = expect_str(ref, rwhere, report)
        if name is None:
            return None
        target = index.get("SLI", name)
        if target is None:
            report.problems.append(
                rwhere.problem(f"indicatorRef {name!r} does not resolve to an SLI")
            )
            return None
        return _sli_spec(target.spec, target.where.child("spec"), index, report)
    inline = _section(spec, "indicator", ("apiVersion", "kind", "metadata", "spec"), where, report)
    if inline is None:
        return None
    data, iwhere = inline
    obj = _object(data, iwhere, report, "SLI")
    if obj is None:
        return None
    return _sli_spec(obj.spec, iwhere.child("spec", data), index, report)


def _sli_spec(
    spec: Mapping[Any, Any], where: Where, index: _Index, report: Report
) -> _Indicator | None:
    check_keys(spec, ("description", "thresholdMetric", "ratioMetric"), where, report)
    if not _one_of(spec, "ratioMetric", "thresholdMetric", where, report):
        return None
    if spec.get("thresholdMetric") is not None:
        q = _metric(spec, "thresholdMetric", where, index, report)
        if q is None:
            return None
        twhere = where.child("thresholdMetric", spec)
        return _Indicator("threshold", {"query": q[0]}, {"query": q[1]}, twhere)
    ratio = _section(
        spec, "ratioMetric", ("counter", "good", "bad", "total", "rawType", "raw"), where, report
    )
    if ratio is None:
        return None
    data, rwhere = ratio
    if "raw" in data:
        return _raw_indicator(data, rwhere, index, report)
    if data.get("counter") is False:
        report.problems.append(
            rwhere.child("counter", data).problem(
                "gauge ratios (counter: false) are not supported: use counters "
                "(counter: true) or a precomputed ratio (raw + rawType)"
            )
        )
        return None
    given = [k for k in ("good", "bad") if data.get(k) is not None]
    if len(given) != 1 or data.get("total") is None:
        report.problems.append(
            rwhere.problem("give 'total' and exactly one of 'good' or 'bad' (or 'raw')")
        )
        return None
    queries: dict[str, str] = {}
    places: dict[str, Where] = {}
    for key in (given[0], "total"):
        q = _metric(data, key, rwhere, index, report)
        if q is None:
            return None
        queries[key], places[key] = q
    return _Indicator("ratio", queries, places, rwhere)


def _raw_indicator(
    data: Mapping[Any, Any], where: Where, index: _Index, report: Report
) -> _Indicator | None:
    extra = [k for k in ("good", "bad", "total") if data.get(k) is not None]
    if extra:
        report.problems.append(where.problem(f"'raw' cannot be combined with {extra[0]!r}"))
        return None
    raw_type = data.get("rawType")
    if raw_type not in ("success", "failure"):
        report.problems.append(
            where.child("rawType", data).problem(
                f"rawType must be 'success' or 'failure', got {type_name(raw_type)}"
            )
        )
        return None
    q = _metric(data, "raw", where, index, report)
    if q is None:
        return None
    return _Indicator("raw", {"raw": q[0]}, {"raw": q[1]}, where, raw_type=raw_type)


def _one_of(spec: Mapping[Any, Any], first: str, second: str, where: Where, report: Report) -> bool:
    """True when exactly one of two alternative keys is given; else one problem naming both."""
    if (spec.get(first) is None) == (spec.get(second) is None):
        report.problems.append(where.problem(f"give exactly one of {first!r} or {second!r}"))
        return False
    return True


def _section(
    parent: Mapping[Any, Any], key: str, keys: tuple[str, ...], where: Where, report: Report
) -> tuple[Mapping[Any, Any], Where] | None:
    """``parent[key]`` as a mapping, with its place; keys other than ``keys`` are reported."""
    kwhere = where.child(key, parent)
    data = expect_mapping(parent.get(key), kwhere, report)
    if data is None:
        return None
    check_keys(data, keys, kwhere, report)
    return data, kwhere


def _metric(
    parent: Mapping[Any, Any], key: str, where: Where, index: _Index, report: Report
) -> tuple[str, Where] | None:
    """The query of the ``{metricSource: ...}`` under ``parent[key]``, and where it was read.

    Every metric of an SLI (threshold, good, bad, total, raw) has this one shape.
    """
    section = _section(parent, key, ("metricSource",), where, report)
    if section is None:
        return None
    return _metric_query(*section, index, report)


def _metric_query(
    body: Mapping[Any, Any], where: Where, index: _Index, report: Report
) -> tuple[str, Where] | None:
    mwhere = where.child("metricSource", body)
    source = expect_mapping(body.get("metricSource"), mwhere, report)
    if source is None:
        return None
    check_keys(source, ("metricSourceRef", "type", "spec"), mwhere, report)
    kind = source.get("type")
    ref = source.get("metricSourceRef")
    if kind is None and ref is not None:
        ds = index.get("DataSource", ref) if isinstance(ref, str) else None
        if ds is None:
            report.problems.append(
                mwhere.child("metricSourceRef", source).problem(
                    f"metricSourceRef {ref!r} does not resolve to a DataSource"
                )
            )
            return None
        kind = ds.spec.get("type")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        report.problems.append(
            mwhere.child("type", source).problem(
                f"metric source type {kind!r} is not supported: only Prometheus"
            )
        )
        return None
    swhere = mwhere.child("spec", source)
    spec = expect_mapping(source.get("spec"), swhere, report)
    if spec is None:
        return None
    key = "query" if "query" in spec else "promql"
    qwhere = swhere.child(key, spec)
    query = expect_str(spec.get(key), qwhere, report)
    if query is None:
        return None
    return query, qwhere


def _sli_for(
    indicator: _Indicator, objective: dict[str, Any], where: Where, report: Report
) -> dict[str, Any] | None:
    if indicator.kind == "ratio":
        numerator = "good" if "good" in indicator.queries else "bad"
        key = "good" if numerator == "good" else "errors"
        return {
            "kind": "events",
            key: indicator.queries[numerator],
            "total": indicator.queries["total"],
        }
    if indicator.kind == "raw":
        return {"kind": "raw", "error_ratio": _raw_error_ratio(indicator)}
    return _latency(indicator, objective, report)


def _raw_error_ratio(indicator: _Indicator) -> str:
    query = indicator.queries["raw"].strip()
    if has_placeholder(query):
        ratio = query
    elif _is_selector(query):
        ratio = f"avg_over_time({query}[{{{{.window}}}}])"
    else:
        ratio = f"avg_over_time(({query})[{{{{.window}}}}:])"
    return ratio if indicator.raw_type == "failure" else f"1 - ({ratio})"


def _is_selector(query: str) -> bool:
    if parse_error(query) is not None:
        return False
    import promql_parser

    return isinstance(promql_parser.parse(query), promql_parser.VectorSelector)


def _latency(
    indicator: _Indicator, objective: dict[str, Any], report: Report
) -> dict[str, Any] | None:
    qwhere = indicator.query_where["query"]
    owhere: Where = objective["where"]
    data = objective["data"]
    query = indicator.queries["query"].strip()
    if objective.get("op") not in ("lt", "lte"):
        report.problems.append(
            owhere.child("op", data).problem(
                "a thresholdMetric objective needs op: lt or lte (a latency threshold)"
            )
        )
        return None
    value = objective.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        report.problems.append(
            owhere.child("value", data).problem("give the threshold as a number")
        )
        return None
    if not _is_selector(query):
        report.problems.append(qwhere.problem(_THRESHOLD_HELP))
        return None
    try:
        (name, matchers), *_ = selectors(query)
    except (PromQLError, ValueError):
        report.problems.append(qwhere.problem(_THRESHOLD_HELP))
        return None
    if not name.endswith("_bucket"):
        report.problems.append(qwhere.problem(_THRESHOLD_HELP))
        return None
    if any(label == "le" for label, _, _ in matchers):
        report.problems.append(
            qwhere.problem("do not match on 'le': the objective value is the bucket")
        )
        return None
    selector = ",".join(f'{label}{op}"{escape_label_value(v)}"' for label, op, v in matchers)
    return {
        "kind": "latency",
        "metric": name.removesuffix("_bucket"),
        "threshold": value,
        "selector": selector,
    }


_THRESHOLD_HELP = (
    "thresholdMetric is supported for Prometheus histograms only: give the bucket series "
    'as the query (http_request_duration_seconds_bucket{job="api"}) and the bucket '
    "boundary as the objective value"
)


# -- alerting ----------------------------------------------------------------------


def _alerting(
    spec: Mapping[Any, Any], where: Where, index: _Index, report: Report
) -> dict[str, Any]:
    if spec.get("alertPolicies") is None:
        return {}
    awhere = where.child("alertPolicies", spec)
    items = expect_list(spec["alertPolicies"], awhere, report)
    if items is None:
        return {}
    windows: dict[str, list[dict[str, Any]]] = {"page": [], "ticket": []}
    no_data = False
    for i, item in enumerate(items):
        iwhere = awhere.child(i, items)
        policy = _resolve(item, iwhere, index, report, "AlertPolicy", "alertPolicyRef")
        if policy is None:
            continue
        pspec, pwhere = policy
        check_keys(
            pspec,
            (
                "description",
                "alertWhenNoData",
                "alertWhenResolved",
                "alertWhenBreaching",
                "conditions",
                "notificationTargets",
            ),
            pwhere,
            report,
        )
        no_data = no_data or pspec.get("alertWhenNoData") is True
        cwhere = pwhere.child("conditions", pspec)
        conditions = expect_list(pspec.get("conditions"), cwhere, report)
        for j, cond in enumerate(conditions or []):
            resolved = _resolve(
                cond, cwhere.child(j, conditions), index, report, "AlertCondition", "conditionRef"
            )
            if resolved is not None:
                entry = _condition(*resolved, report)
                if entry is not None:
                    windows[entry[0]].append(entry[1])
    out: dict[str, Any] = {
        tier: ({"windows": ws} if ws else {"enabled": False}) for tier, ws in windows.items()
    }
    if no_data:
        out["no_data"] = {"enabled": True}
    return out


def _resolve(
    item: Any, where: Where, index: _Index, report: Report, kind: str, ref_key: str
) -> tuple[Mapping[Any, Any], Where] | None:
    data = expect_mapping(item, where, report)
    if data is None:
        return None
    if ref_key in data:
        check_keys(data, (ref_key,), where, report)
        rwhere = where.child(ref_key, data)
        name = expect_str(data[ref_key], rwhere, report)
        if name is None:
            return None
        target = index.get(kind, name)
        if target is None:
            report.problems.append(
                rwhere.problem(f"{ref_key} {name!r} does not resolve to a {kind}")
            )
            return None
        return target.spec, target.where.child("spec")
    check_keys(data, ("apiVersion", "kind", "metadata", "spec"), where, report)
    if data.get("kind", kind) != kind:
        report.problems.append(where.child("kind", data).problem(f"expected kind {kind}"))
        return None
    obj = _object(data, where, report, kind)
    return None if obj is None else (obj.spec, where.child("spec", data))


def _condition(
    spec: Mapping[Any, Any], where: Where, report: Report
) -> tuple[str, dict[str, Any]] | None:
    check_keys(spec, ("description", "severity", "condition"), where, report)
    severity = spec.get("severity")
    swhere = where.child("severity", spec)
    tier = None
    if isinstance(severity, str):
        low = severity.lower()
        tier = "page" if low in PAGE_SEVERITIES else "ticket" if low in TICKET_SEVERITIES else None
    if tier is None:
        report.problems.append(
            swhere.problem(
                f"severity {severity!r} does not map to a tier: use page/critical/sev1 "
                "or ticket/warning/sev2"
            )
        )
        return None
    cwhere = where.child("condition", spec)
    cond = expect_mapping(spec.get("condition"), cwhere, report)
    if cond is None:
        return None
    check_keys(cond, ("kind", "op", "threshold", "lookbackWindow", "alertAfter"), cwhere, report)
    if cond.get("kind", "burnrate") != "burnrate":
        report.problems.append(
            cwhere.child("kind", cond).problem("only 'burnrate' alert conditions are supported")
        )
        return None
    if not _burn_operator(cond.get("op"), cwhere.child("op", cond), report):
        return None
    factor = expect_number(cond.get("threshold"), cwhere.child("threshold", cond), report)
    long = expect_duration(
        cond.get("lookbackWindow"), cwhere.child("lookbackWindow", cond), report, zero=True
    )
    if factor is None or long is None:
        return None
    if factor <= 0:
        report.problems.append(cwhere.child("threshold", cond).problem("must be positive"))
        return None
    short = None
    if cond.get("alertAfter") is not None:
        short = expect_duration(
            cond["alertAfter"], cwhere.child("alertAfter", cond), report, zero=True
        )
        if short is None:
            return None
    if not short:
        short = max(60, round(long / 12 / 60) * 60) if long >= 720 else max(1, long // 12)
    return tier, {"long": format_duration(long), "short": format_duration(short), "factor": factor}


_OPERATORS = ("lt", "lte", "gt", "gte")


def _burn_operator(op: Any, where: Where, report: Report) -> bool:
    """``condition.op``: the burn rate compared with ``threshold``; the alert fires above it.

    ``gt`` and ``gte`` read the same here (a burn rate exactly at the threshold is a
    measure-zero event); ``lt``/``lte`` would page while the budget is safe, so they are
    refused rather than silently turned around. Omitted, ``gt`` is meant.
    """
    if op is None or op in ("gt", "gte"):
        return True
    if op in _OPERATORS:
        report.problems.append(
            where.problem(
                f"op {op!r} is not supported for a burn-rate condition: the alert fires when "
                "the burn rate is above the threshold (op: gt or gte)"
            )
        )
    else:
        report.problems.append(where.problem(f"op must be one of {', '.join(_OPERATORS)}"))
    return False
