"""The stack rules as tables: one module per target kind, each a :class:`Stack`.

A stack is its recording rules, its alerts, and the promtool test cases that pin
them (series in, alerts expected). :mod:`sloplane.exporters.rules` turns the tables
into rule and test files. Thresholds are the usual starting points; the docs
(docs/exporters.md) list them.

Expressions aggregate with ``without (...)`` so whatever labels a scrape adds
(``instance``, ``job``, and ``target`` on the exporter's own ``/metrics``) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sloplane.slo.rules.common import Rule

#: Who an alert is about: the configured target's name on the exporter's ``/metrics`` (where
#: ``instance`` is the exporter itself), else the probed address Prometheus put in ``instance``.
WHO = "{{ with $labels.target }}{{ . }}{{ else }}{{ $labels.instance }}{{ end }}"

#: sloplane's AlertManager routing pages on ``page`` and opens tickets on ``ticket``.
PAGE = "page"
TICKET = "ticket"


def alert_rule(
    name: str, expr: str, for_: str, severity: str, summary: str, description: str
) -> Rule:
    """An alerting rule of a stack; :func:`stack_rule_files` adds the ``sloplane_stack`` label."""
    return Rule(
        expr=expr,
        alert=name,
        for_=for_,
        labels={"severity": severity},
        annotations={"summary": summary, "description": description},
    )


def recording_rule(record: str, expr: str) -> Rule:
    return Rule(expr=expr, record=record)


@dataclass(frozen=True)
class AlertTest:
    """Series (``'metric{labels}': 'values'``), an eval time, and the alerts expected then."""

    series: dict[str, str]
    eval_time: str
    alert: str
    fires: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordTest:
    series: dict[str, str]
    eval_time: str
    expr: str
    expected: list[tuple[str, float]]


@dataclass(frozen=True)
class Stack:
    kind: str
    records: list[Rule]
    alerts: list[Rule]
    alert_tests: list[AlertTest]
    record_tests: list[RecordTest]
