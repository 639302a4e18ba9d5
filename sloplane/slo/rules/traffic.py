"""Synthetic traffic for generated unit tests: series whose rates produce a chosen error ratio.

An SLI is a handful of PromQL expressions over counters or gauges. We build one
candidate series per selector (plus, where two selectors share a metric, series
that match one but not the other), read off how the error and total expressions
depend linearly on each series, and solve a small linear program for per-step
increments that give exactly the error ratio a scenario needs. This covers the
shapes SLIs take in practice (``errors / total``, ``count - bucket``,
``commit + rollback``, ``1 - avg_over_time(up)``) without special-casing any.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import promql_parser

from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO, AvailabilitySLI, LatencySLI, RawSLI
from sloplane.slo.naming import BASE_WINDOW
from sloplane.slo.promql import num, render_template
from sloplane.slo.rules.series import (
    ALL_LABELS,
    Selector,
    SynthesisError,
    output_labels,
    satisfying,
    selector_of_node,
    selectors_of,
    violating,
)
from sloplane.slo.rules.sli import SliQueries

EVENTS_PER_STEP = 1_000_000
COUNTER_BASE = 1_000_000_000
RATE_FUNCS = {"rate", "increase", "irate"}
GAUGE_FUNCS = {"avg_over_time", "min_over_time", "max_over_time", "last_over_time"}
PASS_FUNCS = {"clamp_min", "clamp_max", "abs"}
PASS_AGGREGATIONS = {"sum", "avg", "min", "max"}


class UnitTestGap(ValueError):
    """Why no unit test could be generated for an SLO."""


@dataclass(frozen=True)
class Series:
    metric: str
    labels: tuple[tuple[str, str], ...]

    def text(self) -> str:
        inner = ", ".join(f'{k}="{v}"' for k, v in self.labels)
        return f"{self.metric}{{{inner}}}"

    def matches(self, sel: Selector) -> bool:
        return sel.selects(self.metric, dict(self.labels))


Linear = tuple[float, list[float]]  # constant term, coefficient per series


@dataclass
class Traffic:
    """Series driving an SLI, and the per-step values that give any error ratio."""

    series: list[Series]
    gauge: bool
    labels: dict[str, str]
    solve: Callable[[float], list[float]]
    _cache: dict[float, list[float]] = field(default_factory=dict)

    def values(self, ratio: float) -> list[float]:
        if ratio not in self._cache:
            self._cache[ratio] = self.solve(ratio)
        return self._cache[ratio]

    def input_series(self, phases: list[tuple[float, int]]) -> list[dict[str, str]]:
        """promtool input series for a timeline of (error ratio, steps) phases."""
        out = []
        for index, series in enumerate(self.series):
            per_phase = [(self.values(ratio)[index], steps) for ratio, steps in phases]
            values = _gauge(per_phase) if self.gauge else _counter(per_phase)
            out.append({"series": series.text(), "values": values})
        return out


def _counter(phases: list[tuple[float, int]]) -> str:
    value = float(COUNTER_BASE)
    parts = [f"{num(value)}+0x0"]
    for inc, steps in phases:
        value += inc
        parts.append(f"{num(value)}+{num(inc)}x{steps - 1}")
        value += inc * (steps - 1)
    return " ".join(parts)


def _gauge(phases: list[tuple[float, int]]) -> str:
    first_value = phases[0][0]
    return " ".join([f"{num(first_value)}x0"] + [f"{num(v)}x{steps - 1}" for v, steps in phases])


def traffic_for(slo: SLO) -> Traffic:
    """Traffic for ``slo``'s SLI, or :class:`UnitTestGap` when its shape is beyond us."""
    try:
        return _traffic(slo)
    except UnitTestGap:
        raise
    except (SynthesisError, ValueError, ZeroDivisionError, AttributeError, IndexError) as exc:
        raise UnitTestGap(f"cannot synthesize traffic: {exc}") from exc


def _traffic(slo: SLO) -> Traffic:
    sli = slo.sli
    queries = SliQueries(sli, slo.group_by)
    if isinstance(sli, LatencySLI) and sli.native:
        raise UnitTestGap("native histograms cannot be written as promtool input series")
    events = queries.events(BASE_WINDOW)
    if events is not None:
        total = queries.total(BASE_WINDOW)
        return _events(slo, events.query, total, bad_is_errors=events.errors)
    if isinstance(sli, AvailabilitySLI):
        return _gauge_ratio(slo, queries.errors(BASE_WINDOW))
    if isinstance(sli, RawSLI):
        text = render_template(sli.error_ratio, format_duration(BASE_WINDOW))
        node = _unparen(promql_parser.parse(text))
        if isinstance(node, promql_parser.BinaryExpr) and str(node.op) == "/":
            return _ratio_events(slo, text, node)
        return _gauge_ratio(slo, text)
    raise UnitTestGap(f"unsupported SLI kind {sli.kind}")


def _ratio_events(slo: SLO, text: str, node: Any) -> Traffic:
    series = _candidates(selectors_of(text), slo.group_by)
    errors = _linear(node.lhs, series)
    total = _linear(node.rhs, series)
    return _solve_events(slo, series, errors, total, text)


def _events(slo: SLO, part: str, total: str, bad_is_errors: bool) -> Traffic:
    series = _candidates(selectors_of(part) + selectors_of(total), slo.group_by)
    part_lin = _linear(promql_parser.parse(part), series)
    total_lin = _linear(promql_parser.parse(total), series)
    if bad_is_errors:
        errors = part_lin
    else:
        errors = (
            total_lin[0] - part_lin[0],
            [t - p for t, p in zip(total_lin[1], part_lin[1], strict=True)],
        )
    return _solve_events(slo, series, errors, total_lin, total)


def _solve_events(
    slo: SLO, series: list[Series], errors: Linear, total: Linear, total_text: str
) -> Traffic:
    if errors[0] or total[0]:
        raise UnitTestGap("the error or total query has a constant term")

    def solve(ratio: float) -> list[float]:
        rows = [
            [e - ratio * t for e, t in zip(errors[1], total[1], strict=True)],
            list(total[1]),
        ]
        return _lp(rows, [0.0, float(EVENTS_PER_STEP)], upper=None, what=f"error ratio {ratio}")

    traffic = Traffic(series, gauge=False, labels=_kept(slo, series, total_text), solve=solve)
    for ratio in (0.0, 1.0):
        traffic.values(ratio)  # fail now, not half-way through a scenario
    return traffic


def _gauge_ratio(slo: SLO, text: str) -> Traffic:
    series = _candidates(selectors_of(text), slo.group_by)
    constant, coefs = _linear(promql_parser.parse(text), series)

    def solve(ratio: float) -> list[float]:
        return _lp([coefs], [ratio - constant], upper=1.0, what=f"error ratio {ratio}")

    traffic = Traffic(series, gauge=True, labels=_kept(slo, series, text), solve=solve)
    for ratio in (0.0, 1.0):
        traffic.values(ratio)
    return traffic


def _kept(slo: SLO, series: list[Series], text: str) -> dict[str, str]:
    names = output_labels(text)
    if names is None:
        raise UnitTestGap("cannot tell which labels the SLI query keeps (aggregation 'without')")
    labels: dict[str, str] = {}
    for s in series:
        for k, v in s.labels:
            if k in names or ALL_LABELS in names:
                if labels.get(k, v) != v:
                    raise UnitTestGap(f"synthetic series disagree on kept label {k!r}")
                labels[k] = v
    return labels


def _candidates(selectors: list[Selector], group_by: tuple[str, ...]) -> list[Series]:
    """One series per selector, plus series that split selectors sharing a metric."""
    group = {label: "test" for label in group_by}
    found: list[Series] = []

    def add(metric: str, labels: dict[str, str]) -> None:
        s = Series(metric, tuple(sorted(labels.items())))
        if s not in found:
            found.append(s)

    for sel in selectors:
        add(sel.metric, satisfying(sel.matchers, group))
    for a in selectors:
        for b in selectors:
            if a is not b and a.metric == b.metric and a.matchers != b.matchers:
                try:
                    add(b.metric, violating(a.matchers, b.matchers, group))
                except SynthesisError:
                    continue
    if not found:
        raise UnitTestGap("the SLI query selects no series")
    return found


def _unparen(node: Any) -> Any:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def _linear(node: Any, series: list[Series]) -> Linear:
    """The expression as constant + coefficients over ``series``; checked to be linear."""
    zero = [0.0] * len(series)
    constant = _eval(node, series, zero)
    coefs = []
    for i in range(len(series)):
        point = zero.copy()
        point[i] = 1.0
        coefs.append(_eval(node, series, point) - constant)
    rng = random.Random(7)
    probe = [rng.uniform(0.5, 2.0) for _ in series]
    expected = constant + sum(c * x for c, x in zip(coefs, probe, strict=True))
    if abs(_eval(node, series, probe) - expected) > 1e-9 * max(1.0, abs(expected)):
        raise UnitTestGap("the SLI query is not linear in its series")
    return constant, coefs


def _eval(node: Any, series: list[Series], values: list[float]) -> float:
    node = _unparen(node)
    p = promql_parser
    if isinstance(node, p.NumberLiteral):
        return float(node.val)
    if isinstance(node, p.UnaryExpr):
        return -_eval(node.expr, series, values)
    if isinstance(node, p.AggregateExpr):
        if str(node.op) not in PASS_AGGREGATIONS:
            raise UnitTestGap(f"aggregation {node.op} is not supported in generated tests")
        return _eval(node.expr, series, values)
    if isinstance(node, p.Call):
        name = node.func.name
        if name in PASS_FUNCS:
            return _eval(node.args[0], series, values)
        if name == "vector":
            return _eval(node.args[0], series, values)
        if name in RATE_FUNCS | GAUGE_FUNCS:
            if not isinstance(node.args[0], p.MatrixSelector):
                raise UnitTestGap(f"{name} over a subquery is not supported in generated tests")
            sel = selector_of_node(node.args[0].vector_selector)
            matching = [v for s, v in zip(series, values, strict=True) if s.matches(sel)]
            if not matching:
                return 0.0
            return sum(matching) if name in RATE_FUNCS else sum(matching) / len(matching)
        raise UnitTestGap(f"function {name} is not supported in generated tests")
    if isinstance(node, p.BinaryExpr):
        op = str(node.op)
        if op == "or":
            return _eval(node.lhs, series, values)
        lhs, rhs = _eval(node.lhs, series, values), _eval(node.rhs, series, values)
        if op == "+":
            return lhs + rhs
        if op == "-":
            return lhs - rhs
        if op == "*":
            return lhs * rhs
        if op == "/":
            return lhs / rhs if rhs else 0.0
        raise UnitTestGap(f"operator {op} is not supported in generated tests")
    raise UnitTestGap(f"{type(node).__name__} is not supported in generated tests")


def _lp(rows: list[list[float]], rhs: list[float], upper: float | None, what: str) -> list[float]:
    """Smallest non-negative solution of ``rows @ x == rhs`` (each x at most ``upper``)."""
    from scipy.optimize import linprog

    n = len(rows[0])
    result = linprog(c=[1.0] * n, A_eq=rows, b_eq=rhs, bounds=[(0.0, upper)] * n, method="highs")
    if not result.success:
        raise UnitTestGap(f"no series values give an {what}")
    return [_clean(x) for x in result.x]


def _clean(x: float) -> float:
    """Snap solver noise (1e-12) so counter values stay exact decimals."""
    rounded = round(x, 6)
    return 0.0 if abs(rounded) < 1e-9 else rounded
