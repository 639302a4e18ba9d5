"""Checks across a whole catalog that a single model object cannot make on its own.

The model validates each SLO's own fields; this module checks what needs the
whole catalog or the query language: duplicate ids across files, PromQL that does
not parse, Sloth queries without ``{{.window}}``, error queries identical to
total queries, and burn-rate conditions that can never fire.

:func:`validate_catalog` returns errors (the build stops); :func:`warnings_for`
returns warnings (reported, the build goes on).
"""

from __future__ import annotations

import re
from collections import defaultdict

from sloplane.errors import Problem
from sloplane.slo.burn import THIRTY_DAYS, WORKBOOK_TABLE
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO, AvailabilitySLI, EventsSLI, LatencySLI, RawSLI
from sloplane.slo.promql import (
    PromQLError,
    has_placeholder,
    parse_error,
    render_template,
    window_query,
)

SAMPLE_WINDOW = "5m"
_METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_TEMPLATE_FORMATS = {"sloth"}  # formats whose queries must use {{.window}}


def validate_catalog(catalog: Catalog) -> list[Problem]:
    problems = _duplicates(catalog)
    for slo in catalog.slos:
        problems.extend(validate_slo(slo))
    return problems


def warnings_for(catalog: Catalog) -> list[Problem]:
    """Derived page conditions that can never fire (objective too low for the table)."""
    out = []
    for slo in catalog.slos:
        if slo.alerting.page.windows is not None:
            continue  # explicit windows are checked as errors
        for w in slo.burn_windows("page"):
            if w.factor * slo.error_budget > 1:
                out.append(
                    _problem(
                        slo,
                        "alerting.page",
                        f"page alert over {format_duration(w.long)} can never fire: burn factor "
                        f"{w.factor:g} × error budget {slo.error_budget:g} > 1 "
                        "(the error ratio cannot exceed 100%); raise the objective or give "
                        "explicit windows",
                    )
                )
    for slo in catalog.slos:
        out.extend(_floored_windows(slo))
        if slo.objective < 0.5:
            out.append(
                _problem(
                    slo,
                    "objective",
                    f"objective {slo.objective_percent:g}% is unusually low: numbers >= 1 are "
                    "percentages (write 99.9 or 0.999 for 99.9%)",
                )
            )
    return out


def _floored_windows(slo: SLO) -> list[Problem]:
    """Warn when the 5-minute floor on derived windows changed the workbook's factors."""
    out = []
    for sev, tier in (("page", slo.alerting.page), ("ticket", slo.alerting.ticket)):
        if tier.windows is not None:
            continue
        for w, (_, long, _short, share) in zip(
            slo.burn_windows(sev),  # type: ignore[arg-type]
            [row for row in WORKBOOK_TABLE if row[0] == sev],
            strict=False,
        ):
            table_factor = share * THIRTY_DAYS / long
            if w.factor < table_factor * 0.99:
                out.append(
                    _problem(
                        slo,
                        f"alerting.{sev}",
                        f"window {slo.window_text} is short: the {format_duration(w.long)} "
                        f"{sev} condition uses burn factor {w.factor:g} instead of "
                        f"{table_factor:g} (alert windows stay >= 5m); consider explicit windows",
                    )
                )
    return out


def validate_slo(slo: SLO) -> list[Problem]:
    problems = _sli_problems(slo)
    problems.extend(_window_problems(slo))
    return problems


def _problem(slo: SLO, field: str, message: str) -> Problem:
    """A problem with model field ``field``, named and located as the user wrote it."""
    file, written, line = slo.source.locate(field)
    return Problem(file=file, line=line, obj=slo.id, field=written, message=message)


def _duplicates(catalog: Catalog) -> list[Problem]:
    by_id: dict[str, list[SLO]] = defaultdict(list)
    for slo in catalog.slos:
        by_id[slo.id].append(slo)
    problems = []
    for slo_id, group in by_id.items():
        if len(group) < 2:
            continue
        places = [_place(s) for s in group]
        for slo, place in zip(group, places, strict=True):
            others = ", ".join(p for p in places if p != place) or place
            problems.append(_problem(slo, "name", f"SLO id {slo_id!r} is also defined in {others}"))
    return problems


def _place(slo: SLO) -> str:
    where = slo.source.file or "<python>"
    return f"{where}:{slo.source.line}" if slo.source.line is not None else where


def _sli_problems(slo: SLO) -> list[Problem]:
    sli = slo.sli
    templated = slo.source.format in _TEMPLATE_FORMATS
    out: list[Problem] = []
    if isinstance(sli, EventsSLI):
        queries = {"sli.errors": sli.errors, "sli.good": sli.good, "sli.total": sli.total}
        for field, query in queries.items():
            if query is None:
                continue
            if templated and not has_placeholder(query):
                out.append(_problem(slo, field, "query must use the {{.window}} placeholder"))
                continue
            found = _query_problem(slo, field, query)
            if not found and slo.source.format in _COUNTER_FORMATS:
                found = _counter_shape_problem(slo, field, query)
            out.extend(found)
        numerator = sli.errors if sli.errors is not None else sli.good
        if numerator is not None and _normal(numerator) == _normal(sli.total):
            which = "error" if sli.errors is not None else "good"
            out.append(
                _problem(
                    slo,
                    "sli.total",
                    f"the {which} query is the same as the total query: the ratio is always 1",
                )
            )
    elif isinstance(sli, RawSLI):
        if not has_placeholder(sli.error_ratio):
            out.append(
                _problem(slo, "sli.error_ratio", "query must use the {{.window}} placeholder")
            )
        else:
            out.extend(_query_problem(slo, "sli.error_ratio", sli.error_ratio))
    elif isinstance(sli, LatencySLI):
        out.extend(_latency_problems(slo, sli))
    elif isinstance(sli, AvailabilitySLI):
        error = parse_error(sli.gauge)
        if error:
            out.append(_problem(slo, "sli.gauge", f"invalid PromQL: {error}"))
    return out


def _query_problem(slo: SLO, field: str, query: str) -> list[Problem]:
    """The query as the rules will use it must parse (templates rendered, selectors windowed)."""
    try:
        rendered = window_query(query, SAMPLE_WINDOW, slo.group_by)
    except PromQLError as exc:
        return [_problem(slo, field, f"invalid PromQL: {exc}")]
    except ValueError as exc:  # a rewrite the parser rejects: report it, never a traceback
        return [_problem(slo, field, f"cannot window this query: {exc}")]
    error = parse_error(rendered)
    if error:
        return [_problem(slo, field, f"invalid PromQL: {error}")]
    return []


# Formats whose events queries are the model's own (Python, sloplane/v1): checked for shape.
_COUNTER_FORMATS = {"python", "sloplane"}
_RATE_FUNCTIONS = {"rate", "increase", "irate"}
_ADDITIVE = {"+", "or"}


def _counter_shape_problem(slo: SLO, field: str, query: str) -> list[Problem]:
    """An events query is a counter selector or an aggregation of rates, nothing else.

    The rules divide the errors (or good) rate by the total rate; a query that is already a
    ratio (``a / b``) or a quantile makes that quotient meaningless, silently.
    """
    import promql_parser

    text = render_template(query, SAMPLE_WINDOW) if has_placeholder(query) else query
    try:
        node = promql_parser.parse(text)
    except ValueError:
        return []  # reported as invalid PromQL already
    if _counter_shaped(node, top=True):
        return []
    return [
        _problem(
            slo,
            field,
            "not a counter selector or an aggregation of rates "
            '(http_requests_total{code=~"5.."} or sum(rate(...[{{.window}}]))): the rules '
            "divide this by the total, so a ratio or a quantile here records nonsense",
        )
    ]


def _counter_shaped(node: object, top: bool = False) -> bool:
    import promql_parser as p

    if isinstance(node, p.ParenExpr):
        return _counter_shaped(node.expr, top)
    if isinstance(node, p.VectorSelector):
        return top  # a bare counter: sloplane wraps it in sum(rate(...))
    if isinstance(node, p.Call):
        return node.func.name in _RATE_FUNCTIONS
    if isinstance(node, p.AggregateExpr):
        return str(node.op) in {"sum", "max", "min"} and _counter_shaped(node.expr)
    if isinstance(node, p.BinaryExpr):
        return str(node.op) in _ADDITIVE and all(
            _counter_shaped(side, top) for side in (node.lhs, node.rhs)
        )
    return False


def _latency_problems(slo: SLO, sli: LatencySLI) -> list[Problem]:
    out = []
    if not _METRIC_RE.match(sli.metric):
        out.append(_problem(slo, "sli.metric", f"{sli.metric!r} is not a metric name"))
    elif sli.metric.endswith("_bucket"):
        out.append(
            _problem(
                slo,
                "sli.metric",
                "give the histogram base name without '_bucket' "
                f"({sli.metric.removesuffix('_bucket')!r})",
            )
        )
    try:
        float(sli.threshold)
    except ValueError:
        out.append(_problem(slo, "sli.threshold", f"{sli.threshold!r} is not a number"))
    if sli.selector:
        error = parse_error("{" + sli.selector + "}")
        if error:
            out.append(_problem(slo, "sli.selector", f"invalid label matchers: {error}"))
        elif re.search(r"(^|[\s,{])le\s*[=!]", sli.selector):
            out.append(_problem(slo, "sli.selector", "do not match on 'le': use 'threshold'"))
    return out


def _window_problems(slo: SLO) -> list[Problem]:
    out = []
    for severity in ("page", "ticket"):
        tier = slo.alerting.page if severity == "page" else slo.alerting.ticket
        if tier.windows is None:
            continue
        field = f"alerting.{severity}.windows"
        if tier.enabled and not tier.windows:
            out.append(_problem(slo, field, "empty list: disable the tier instead"))
        for w in tier.windows:
            if w.short <= 0 or w.long <= 0:
                out.append(_problem(slo, field, f"windows must be positive ({w.long}/{w.short}s)"))
                continue
            label = f"{format_duration(w.long)}/{format_duration(w.short)}"
            if w.short > w.long:
                out.append(_problem(slo, field, f"short window is longer than long in {label}"))
            if w.long > slo.window:
                out.append(
                    _problem(
                        slo,
                        field,
                        f"long window {format_duration(w.long)} exceeds the "
                        f"SLO window {slo.window_text}",
                    )
                )
            if w.factor * slo.error_budget > 1:
                out.append(
                    _problem(
                        slo,
                        field,
                        f"burn factor {w.factor:g} in {label} can never be reached: "
                        f"{w.factor:g} × error budget {slo.error_budget:g} > 1",
                    )
                )
    return out


def _normal(query: str) -> str:
    return re.sub(r"\s+", "", query)
