"""Alert and recording rules for the stack the exporters watch, with their promtool tests.

:func:`stack_rule_files` returns ``{relative path: file content}``: one rule file
and one ``promtool test rules`` file per kind, under ``stack/``, from the tables in
:mod:`sloplane.exporters.stack_rules`. The files carry the shared generated-file
header and are written with the rule compiler's YAML writer, so the same input
always gives the same bytes and ``write_artifacts`` prunes a file no kind makes.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import replace
from typing import Any

from sloplane.exporters.stack_rules import Stack
from sloplane.slo.rules.common import Rule
from sloplane.slo.rules.render import dump_yaml

#: One module per kind under sloplane.exporters.stack_rules, in file order.
KINDS = ("postgres", "pgbouncer", "redis", "rabbitmq", "http")


def stacks() -> list[Stack]:
    return [
        importlib.import_module(f"sloplane.exporters.stack_rules.{kind}").STACK for kind in KINDS
    ]


def stack_rule_files() -> dict[str, str]:
    """Rule and test files for every kind, by path relative to the Prometheus build dir."""
    files: dict[str, str] = {}
    for stack in stacks():
        rules = f"stack/{stack.kind}.rules.yml"
        files[rules] = dump_yaml(_rule_file(stack))
        files[f"stack/{stack.kind}.rules.test.yml"] = dump_yaml(_test_file(stack, rules))
    return files


def _rule_file(stack: Stack) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": f"sloplane-stack-{stack.kind}-records",
                "rules": [r.to_dict() for r in stack.records],
            },
            {
                "name": f"sloplane-stack-{stack.kind}-alerts",
                "rules": [_stack_alert(stack.kind, a).to_dict() for a in stack.alerts],
            },
        ]
    }


def _stack_alert(kind: str, alert: Rule) -> Rule:
    return replace(alert, labels={**alert.labels, "sloplane_stack": kind})


def _test_file(stack: Stack, rule_path: str) -> dict[str, Any]:
    alerts = {a.alert: a for a in stack.alerts}
    tests: list[dict[str, Any]] = []
    for case in stack.alert_tests:
        alert = alerts[case.alert]
        base = _series_labels(next(iter(case.series)))
        base.pop("__name__", None)
        # Keep the labels every input series shares: those survive the alert's expression.
        for series in case.series:
            shared = _series_labels(series)
            base = {k: v for k, v in base.items() if shared.get(k) == v}
        expected = []
        for extra in case.fires:
            labels = {**base, **extra, **alert.labels, "sloplane_stack": stack.kind}
            expected.append(
                {
                    "exp_labels": dict(sorted(labels.items())),
                    "exp_annotations": {
                        key: _render(text, labels) for key, text in alert.annotations.items()
                    },
                }
            )
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": [
                    {"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": expected}
                ],
            }
        )
    for rcase in stack.record_tests:
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in rcase.series.items()],
                "promql_expr_test": [
                    {
                        "expr": rcase.expr,
                        "eval_time": rcase.eval_time,
                        "exp_samples": [
                            {"labels": rcase.expr + labels, "value": value}
                            for labels, value in rcase.expected
                        ],
                    }
                ],
            }
        )
    return {
        "rule_files": [rule_path.rsplit("/", 1)[-1]],
        "evaluation_interval": "1m",
        "tests": tests,
    }


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_TEMPLATE = re.compile(r"\{\{ \$labels\.(\w+) \}\}")
_WITH_ELSE = re.compile(
    r"\{\{ with \$labels\.(\w+) \}\}\{\{ \. \}\}\{\{ else \}\}(.*?)\{\{ end \}\}"
)


def _series_labels(series: str) -> dict[str, str]:
    name, _, rest = series.partition("{")
    labels = dict(_LABEL.findall(rest))
    if name:
        labels["__name__"] = name
    return labels


def _render(template: str, labels: dict[str, str]) -> str:
    """Render the constructs the annotations use, as Go's text/template would.

    ``{{ $labels.x }}``, and ``{{ with $labels.x }}{{ . }}{{ else }}...{{ end }}``
    (an absent or empty label takes the else branch).
    """

    def with_else(match: re.Match[str]) -> str:
        return labels.get(match.group(1)) or match.group(2)

    return _TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), _WITH_ELSE.sub(with_else, template))
