"""Building metric families from the catalog's specs.

Collectors only say ``out.add("pg_locks", 3, datname="app", mode=..., granted=...)``;
the builder checks the family and its labels against
:mod:`sloplane.exporters.metrics_catalog`, adds the target's own labels, and
appends ``_total``/``_info`` where the type wants them. Families from several
targets are merged by name, since an exposition may name a family only once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from sloplane.exporters.exposition import Metric
from sloplane.exporters.metrics_catalog import FamilySpec, spec_index


class Families:
    """Samples of one scrape of one target, grouped by family."""

    def __init__(self, kind: str, base_labels: Mapping[str, str] | None = None) -> None:
        self._specs = spec_index(kind)
        self._base = dict(base_labels or {})
        self._metrics: dict[str, Metric] = {}

    def add(self, family: str, value: float | int | bool | None, **labels: str) -> None:
        """Add one sample; ``None`` (a value the server did not report) is skipped."""
        if value is None:
            return
        spec = self._specs[family]
        if set(labels) != set(spec.labels):
            raise ValueError(f"{family}: labels {sorted(labels)} != {sorted(spec.labels)}")
        value = float(value)
        if math.isnan(value):
            return
        metric = self._metrics.get(family)
        if metric is None:
            metric = Metric(spec.name, spec.help, "unknown" if spec.bare else spec.type)
            self._metrics[family] = metric
        metric.add_sample(_sample_name(spec), {**self._base, **labels}, value)

    def metrics(self) -> list[Metric]:
        return list(self._metrics.values())


def _sample_name(spec: FamilySpec) -> str:
    if spec.type == "counter" and not spec.bare:
        return spec.name + "_total"
    if spec.type == "info":
        return spec.name + "_info"
    return spec.name


def merge(groups: Iterable[Iterable[Metric]]) -> list[Metric]:
    """Merge families of the same name from several targets, keeping first-seen order."""
    merged: dict[str, Metric] = {}
    for group in groups:
        for metric in group:
            into = merged.get(metric.name)
            if into is None:
                into = Metric(metric.name, metric.documentation, metric.type)
                merged[metric.name] = into
            into.samples.extend(metric.samples)
    return list(merged.values())
