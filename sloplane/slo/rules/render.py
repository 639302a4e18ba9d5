"""Rule groups to files: plain Prometheus rule files or PrometheusRule CRDs.

Up to three rule groups per SLO. ``sloplane-<id>`` runs at the global evaluation
interval and holds the 5m event rates, the short windows (up to 2h, from the source
query), the current burn rate and every alert; Prometheus evaluates a group's rules in
order, so each rule sees what the rules before it recorded in the same evaluation.
``sloplane-<id>-long`` (every 4m) composes the long windows (whole hours from 6h) from the
roll-up tier (:mod:`.rollup`), records their coverage, the period status and the
constants (objective, budget, info); its pieces only change on the 5-minute grid, so a
few minutes of lag cost nothing, and 4m divides every whole-hour window, which the tier's
``offset`` lookups need. ``sloplane-<id>-rollup`` (every 30m) records the clock-hour
buckets. Separate SLOs evaluate concurrently. Every rule evaluation has a fixed cost in
Prometheus whatever it computes, so rules run no more often than their value changes
(within the 5m lookback that instant queries need).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from sloplane.artifacts import HEADER, Artifacts, GenerateSettings
from sloplane.errors import SpecError
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO
from sloplane.slo.naming import (
    LONG_GROUP_INTERVAL,
    PROMETHEUS_RULE,
    ROLLUP_GROUP_INTERVAL,
    Labels,
    long_windows,
    name_problems,
    recorded_windows,
    resource_name,
    service_rule_name,
)
from sloplane.slo.rules.alerts import alert_rules
from sloplane.slo.rules.common import Rule
from sloplane.slo.rules.metadata import constant_rules, current_burn_rule, period_rules
from sloplane.slo.rules.rollup import coverage_rules, fast_rollup_rules, rollup_rules
from sloplane.slo.rules.sli import ratio_rules, sli_rules


def group_name(slo: SLO) -> str:
    return f"sloplane-{slo.id}"


def slo_groups(slo: SLO, settings: GenerateSettings) -> list[dict[str, Any]]:
    """The fast group; the long and roll-up groups when the SLO has composed windows."""
    labels = Labels(settings.label_mode)
    long_ = set(long_windows(slo))
    fast: list[Rule] = [
        *sli_rules(slo, labels),
        *ratio_rules(slo, labels, [w for w in recorded_windows(slo) if w not in long_]),
    ]
    slow: list[Rule] = [
        *fast_rollup_rules(slo, labels),
        *ratio_rules(slo, labels, sorted(long_)),
        *coverage_rules(slo, labels),
    ]
    # constants are re-recorded in the slower group when there is one: every rule
    # evaluation has a fixed cost in Prometheus, whatever the rule computes
    constants = constant_rules(slo, labels)
    if slow:
        slow[:0] = constants
        fast.append(current_burn_rule(slo, labels))
    else:
        fast.extend([*constants, current_burn_rule(slo, labels)])
    (slow if slo.window in long_ else fast).extend(period_rules(slo, labels))
    # Alerts stay in the fast group: it runs every interval and reads the long ratios
    # the long group recorded (at most 4 minutes old), so no alert waits for its turn.
    fast.extend(alert_rules(slo, labels, settings.grafana_url))
    groups = [{"name": group_name(slo), "rules": [r.to_dict() for r in fast]}]
    for suffix, interval, rules in (
        ("long", LONG_GROUP_INTERVAL, slow),
        ("rollup", ROLLUP_GROUP_INTERVAL, rollup_rules(slo, labels)),
    ):
        if rules:
            groups.append(
                {
                    "name": f"{group_name(slo)}-{suffix}",
                    "interval": format_duration(interval),
                    "rules": [r.to_dict() for r in rules],
                }
            )
    return groups


def rule_groups(slos: Iterable[SLO], settings: GenerateSettings) -> list[dict[str, Any]]:
    return [g for slo in sorted(slos, key=lambda s: s.id) for g in slo_groups(slo, settings)]


def rule_file_name(slo: SLO) -> str:
    """One file per SLO: reviews show one SLO per diff, and its unit test loads only its rules."""
    return f"prometheus/{slo.id}.rules.yml"


def compile_rules(catalog: Catalog, settings: GenerateSettings | None = None) -> Artifacts:
    """All rule files (and promtool unit tests) for ``catalog``, keyed by relative path."""
    settings = settings or GenerateSettings()
    out: Artifacts = {}
    if settings.rule_format == "prometheus-operator":
        problems = name_problems(catalog, PROMETHEUS_RULE)
        if problems:
            raise SpecError(problems)
        for service in catalog.services():
            groups = rule_groups(catalog.for_service(service), settings)
            slos = catalog.for_service(service)
            extra = {k: v for slo in slos for k, v in sorted(slo.rule_labels.items())}
            out[f"prometheus-operator/{service}.yaml"] = dump_yaml(
                prometheus_rule(service_rule_name(service), groups, settings, extra)
            )
        return out
    for slo in catalog.slos:
        out[rule_file_name(slo)] = dump_yaml({"groups": slo_groups(slo, settings)})
    if settings.unit_tests:
        from sloplane.slo.rules.unittests import unit_test_files

        out.update(unit_test_files(catalog.slos, settings))
    return out


def prometheus_rule(
    name: str,
    groups: list[dict[str, Any]],
    settings: GenerateSettings,
    slo_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``PrometheusRule`` custom resource holding ``groups``.

    ``slo_labels`` are the SLOs' own ``rule_labels`` (Pyrra's ``metadata.labels``); the
    command line's ``--operator-label`` wins over them.
    """
    metadata: dict[str, Any] = {
        "name": resource_name(name),
        "labels": {
            "app.kubernetes.io/managed-by": "sloplane",
            **(slo_labels or {}),
            **dict(settings.operator_labels),
        },
    }
    if settings.operator_namespace:
        metadata["namespace"] = settings.operator_namespace
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": groups},
    }


# libyaml's emitter when PyYAML has it (10x faster on 10,000 SLOs); same output either way.
_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Block-literal style for multi-line strings, so expressions stay readable in review."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def _node(obj: Any) -> yaml.Node:
    """YAML nodes built directly: PyYAML's Python representer was most of the compile time."""
    if type(obj) is str:
        return yaml.ScalarNode("tag:yaml.org,2002:str", obj, style="|" if "\n" in obj else None)
    if type(obj) is dict:
        pairs = [(_node(k), _node(v)) for k, v in obj.items()]
        return yaml.MappingNode("tag:yaml.org,2002:map", pairs, flow_style=False)
    if type(obj) is list:
        return yaml.SequenceNode("tag:yaml.org,2002:seq", [_node(x) for x in obj], flow_style=False)
    raise TypeError(type(obj))


def dump_yaml(data: Any, header: str = HEADER) -> str:
    """Deterministic YAML with a "do not edit" comment on top."""
    try:
        body = yaml.serialize(_node(data), Dumper=_Dumper, allow_unicode=True, width=1000)
    except TypeError:  # numbers and other types: the representer knows them
        body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return f"# {header}\n{body}"
