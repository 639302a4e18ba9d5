"""Synthetic input series that satisfy an SLI's selectors, for generated promtool tests.

Given the PromQL an SLI compiles to, find label sets that the error (or good)
selector matches and others that only the total selector matches, so a test can
drive "all requests fail" or "0.4% fail" through the SLO's real rules. Regex
matchers get a concrete example string built from the regex's parse tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser

from sloplane.slo.promql import node_selector

Matcher = tuple[str, str, str]  # (label, op, value) with op in =, !=, =~, !~

ALL_LABELS = "*"  # output_labels() result for a bare selector: every label survives
_FILLERS = ("sloplane", "200", "ok", "a", "0", "GET", "x1")


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]

    def selects(self, metric: str, labels: Mapping[str, str]) -> bool:
        """Whether this selector reads the series ``metric{labels}``, as Prometheus decides.

        A label the series lacks reads as ``""`` and regexes match in full. Public because
        the unit-test traffic (:mod:`.traffic`) evaluates the SLI over its candidate series
        by asking which of them each selector in the query reads.
        """
        return metric == self.metric and all(
            _matches(m, labels.get(m[0], "")) for m in self.matchers
        )


class SynthesisError(ValueError):
    """The selectors are too unusual to build matching series automatically."""


def selectors_of(query: str) -> list[Selector]:
    """Every vector selector in ``query``, in order of appearance, de-duplicated."""
    found: list[Selector] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            sel = selector_of_node(node)
            if sel not in found:
                found.append(sel)

    promql_parser.walk(promql_parser.parse(query), visit)
    return found


def selector_of_node(node: Any) -> Selector:
    """A parsed vector selector as a hashable :class:`Selector`."""
    name, matchers = node_selector(node)
    return Selector(name, tuple(matchers))


def output_labels(query: str) -> set[str] | None:
    """Labels the query's result keeps, when they can be read off the top of the expression."""
    return _output_labels(promql_parser.parse(query))


def _output_labels(node: Any) -> set[str] | None:
    if isinstance(node, promql_parser.ParenExpr):
        return _output_labels(node.expr)
    if isinstance(node, promql_parser.AggregateExpr):
        modifier = node.modifier
        if modifier is None:
            return set()
        if "Without" in str(modifier.type):
            return None
        return set(modifier.labels)
    if isinstance(node, promql_parser.BinaryExpr):
        lhs = _output_labels(node.lhs)
        if lhs is None or isinstance(node.lhs, promql_parser.NumberLiteral):
            return _output_labels(node.rhs)
        return lhs
    if isinstance(node, promql_parser.Call):
        for arg in node.args:
            if not isinstance(arg, promql_parser.NumberLiteral | promql_parser.StringLiteral):
                return _output_labels(arg)
        return set()
    if isinstance(node, promql_parser.MatrixSelector | promql_parser.VectorSelector):
        return {ALL_LABELS}
    return None


def satisfying(
    matchers: tuple[Matcher, ...], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """A label set matching every matcher (label values for ``extra`` labels where unconstrained)."""
    labels: dict[str, str] = {}
    by_label: dict[str, list[Matcher]] = {}
    for m in matchers:
        by_label.setdefault(m[0], []).append(m)
    for label, ms in by_label.items():
        value = _value_for(ms)
        if value:
            labels[label] = value
    for label, value in (extra or {}).items():
        labels.setdefault(label, value)
    return labels


def violating(
    matchers: tuple[Matcher, ...],
    must_match: tuple[Matcher, ...],
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """A label set matching ``must_match`` but failing at least one of ``matchers``."""
    base = satisfying(
        must_match + tuple(m for m in matchers if m[0] in {x[0] for x in must_match}), extra
    )
    for label, op, value in matchers:
        constraints = [m for m in must_match if m[0] == label]
        for candidate in (*_FILLERS, *_negations(op, value)):
            if _all_match(constraints, candidate) and not _matches((label, op, value), candidate):
                labels = {**satisfying(must_match, extra), label: candidate}
                if labels != base:
                    return labels
    raise SynthesisError(f"cannot build a series that fails {matchers} but matches {must_match}")


def _negations(op: str, value: str) -> tuple[str, ...]:
    if op == "!=":
        return (value,)
    if op == "!~":
        return (_example(value),)
    return ()


def _value_for(matchers: list[Matcher]) -> str:
    candidates: list[str] = []
    for _, op, value in matchers:
        if op == "=":
            candidates.append(value)
        elif op == "=~":
            candidates.append(_example(value))
    candidates.extend(_FILLERS)
    for candidate in candidates:
        if _all_match(matchers, candidate):
            return candidate
    raise SynthesisError(f"no label value satisfies {matchers}")


def _all_match(matchers: list[Matcher], value: str) -> bool:
    return all(_matches(m, value) for m in matchers)


def _matches(matcher: Matcher, value: str) -> bool:
    _, op, expected = matcher
    if op == "=":
        return value == expected
    if op == "!=":
        return value != expected
    full = re.fullmatch(expected, value) is not None
    return full if op == "=~" else not full


def _example(pattern: str) -> str:
    """A short string that ``pattern`` matches in full (Prometheus regexes are anchored)."""
    try:
        import re._parser as sre_parse

        text = _emit(sre_parse.parse(pattern))
    except Exception as exc:  # regex features we do not model
        raise SynthesisError(f"cannot build an example for regex {pattern!r}") from exc
    if re.fullmatch(pattern, text) is None:
        raise SynthesisError(f"cannot build an example for regex {pattern!r}")
    return text


def _emit(parsed: Any) -> str:
    import re._constants as c

    out = []
    for op, arg in parsed:
        if op is c.LITERAL:
            out.append(chr(arg))
        elif op is c.ANY:
            out.append("0")
        elif op is c.IN:
            out.append(_emit_in(arg, c))
        elif op is c.BRANCH:
            out.append(_emit(arg[1][0]))
        elif op is c.SUBPATTERN:
            out.append(_emit(arg[-1]))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, _high, sub = arg
            out.append(_emit(sub) * low)
        elif op is c.AT:
            continue
        else:
            raise SynthesisError(f"unsupported regex element {op}")
    return "".join(out)


def _emit_in(items: Any, c: Any) -> str:
    for op, arg in items:
        if op is c.LITERAL:
            return chr(arg)
        if op is c.RANGE:
            return chr(arg[0])
        if op is c.CATEGORY:
            return {"CATEGORY_DIGIT": "0", "CATEGORY_WORD": "a", "CATEGORY_SPACE": " "}.get(
                str(arg), "a"
            )
        if op is c.NEGATE:
            return "~" if len(items) > 1 else "a"
    raise SynthesisError("unsupported character class")
