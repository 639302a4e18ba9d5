"""The stack rules as tables: one module per target kind, each a :class:`Stack`.

A stack is its recording rules, its alerts (built here: :func:`page`, :func:`ticket`,
:func:`down_alert`), and the promtool test cases that pin them (series in, alerts
expected; :mod:`.cases`). :mod:`sloplane.exporters.rules` turns the tables into rule
and test files. Thresholds are the usual starting points; the docs
(docs/exporters.md) list them.

Expressions aggregate with ``without (...)`` so whatever labels a scrape adds
(``instance``, ``job``, and ``target`` on the exporter's own ``/metrics``) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from sloplane.exporters.stack_rules.cases import AlertTest, RecordTest
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


def page(name: str, expr: str, for_: str, summary: str, description: str) -> Rule:
    """An alert with ``severity: page`` (sloplane's AlertManager routing pages someone)."""
    return alert_rule(name, expr, for_, PAGE, summary, description)


def ticket(name: str, expr: str, for_: str, summary: str, description: str) -> Rule:
    """An alert with ``severity: ticket`` (the routing opens a ticket; nobody is woken)."""
    return alert_rule(name, expr, for_, TICKET, summary, description)


def down_alert(name: str, up_metric: str, what: str, reason: str) -> Rule:
    """The page every polled kind starts with: its ``*_up`` gauge has been 0 for a minute.

    ``what`` names the kind in the summary ("PostgreSQL"); ``reason`` ends the description
    with the likely causes, which differ by kind (credentials, a pooler's admin users).
    """
    return page(
        name,
        f"{up_metric} == 0",
        "1m",
        f"{what} {WHO} does not answer the exporter",
        f"{up_metric} has been 0 for a minute: {reason}",
    )


def recording_rule(record: str, expr: str) -> Rule:
    return Rule(expr=expr, record=record)


@dataclass(frozen=True)
class Stack:
    kind: str
    records: list[Rule]
    alerts: list[Rule]
    alert_tests: list[AlertTest]
    record_tests: list[RecordTest]
