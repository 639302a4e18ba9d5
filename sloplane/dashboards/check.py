"""``sloplane check DIR``: find dashboard panels and alerts that refer to series nothing produces.

A metric is known when a generated recording rule records it, an SLI source query
(the input of those recordings) reads it, an exporter emits it, or Prometheus
itself makes it (``ALERTS``, ``up``). Anything else is a dangling reference: a
panel that will stay empty or an alert that can never fire.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sloplane.dashboards.exporters import known_metrics
from sloplane.dashboards.queries import expand, panel_queries, variable_values
from sloplane.detect.metric_names import EXPOSED_METRICS
from sloplane.errors import Problem, SloplaneError, SpecError
from sloplane.slo.promql import PromQLError, selectors
from sloplane.yamldoc import load_documents

BUILTIN = frozenset(
    {
        "ALERTS",
        "ALERTS_FOR_STATE",
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }
)


@dataclass
class Rules:
    recorded: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    alerts: list[tuple[str, str, str]] = field(default_factory=list)  # (file, alert, expr)


@dataclass(frozen=True)
class CheckReport:
    dashboards: int
    queries: int
    alerts: int


def _rule_groups(doc: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(doc, dict):
        return
    groups = doc.get("groups")
    if groups is None and isinstance(doc.get("spec"), dict):
        groups = doc["spec"].get("groups")
    for group in groups or []:
        yield from group.get("rules", []) or []


def load_rules(root: Path) -> tuple[Rules, list[Problem]]:
    rules, problems = Rules(), []
    files = sorted({*root.glob("prometheus*/**/*.yml"), *root.glob("prometheus*/**/*.yaml")})
    exprs: list[tuple[str, str]] = []
    for path in files:
        # The shared reader, so a hostile build directory meets the same limits as any input.
        loaded, yaml_problems = load_documents(path.read_text(), str(path))
        if yaml_problems:
            problems.extend(yaml_problems)
            continue
        for doc, _ in loaded:
            for rule in _rule_groups(doc):
                if "record" in rule:
                    rules.recorded.add(str(rule["record"]))
                    exprs.append((str(path), str(rule["expr"])))
                elif "alert" in rule:
                    rules.alerts.append((str(path), str(rule["alert"]), str(rule["expr"])))
    for file, expr in exprs:
        for name in _metric_names(expr, file, "recording rule", problems):
            if name not in rules.recorded:
                rules.sources.add(name)
    return rules, problems


def _metric_names(expr: str, file: str, obj: str, problems: list[Problem]) -> list[str]:
    try:
        return [name for name, _ in selectors(expr) if name]
    except PromQLError as exc:
        problems.append(Problem(file=file, obj=obj, field="expr", message=f"does not parse: {exc}"))
        return []


def _dangling(names: Iterable[str], known: set[str], file: str, obj: str) -> Iterator[Problem]:
    for name in sorted(set(names) - known):
        yield Problem(
            file=file,
            obj=obj,
            field="expr",
            message=(
                f"metric {name!r} comes from no generated recording rule, SLI source query "
                "or known exporter metric"
            ),
        )


def check_dir(root: Path) -> CheckReport:
    """Check every dashboard and alert under ``root`` (the output of ``sloplane generate``)."""
    if not root.is_dir():
        raise SloplaneError(f"{root} is not a directory (give the output of `sloplane generate`)")
    rules, problems = load_rules(root)
    known = rules.recorded | rules.sources | BUILTIN
    for names in known_metrics().values():
        known.update(names)
    known.update(EXPOSED_METRICS)
    for file, alert, expr in rules.alerts:
        obj = f"alert {alert}"
        problems.extend(_dangling(_metric_names(expr, file, obj, problems), known, file, obj))
    dashboards = sorted(root.glob("grafana/*.json"))
    if not (dashboards or rules.recorded or rules.alerts or problems):
        raise SloplaneError(
            f"{root}: no generated dashboards or rules (grafana/*.json, prometheus/*.rules.yml): "
            "give the output of `sloplane generate`"
        )
    count = 0
    for path in dashboards:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            problems.append(Problem(file=str(path), message=f"not valid JSON: {exc}"))
            continue
        values = variable_values(data)
        for query in panel_queries(data):
            count += 1
            obj = f"panel {query.panel!r}" + (f" query {query.ref}" if query.ref else "")
            names = _metric_names(expand(query.expr, values), str(path), obj, problems)
            problems.extend(_dangling(names, known, str(path), obj))
    if problems:
        raise SpecError(problems)
    return CheckReport(len(dashboards), count, len(rules.alerts))
