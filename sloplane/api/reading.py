"""One SLO's numbers as read back from the backend, per group, with where each came from.

A status query returns, in one answer, the recorded ratio of every window (per group for
``group_by`` SLOs), the coverage of every composed window and the firing alerts. This
module sorts those samples into a :class:`Reading` per group and decides, per window,
whether the recorded number may be shown: a composed window (6h and up, built from the
roll-up tier) is trusted only while the recorded series cover 99% of it; otherwise the
source queries answer over the whole window. Pure functions: the I/O is in
:mod:`sloplane.api.service`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sloplane.clients.prometheus import Sample
from sloplane.slo import queries
from sloplane.slo.durations import parse_duration
from sloplane.slo.model import SLO
from sloplane.slo.queries import Source, clean

GroupKey = tuple[str, ...]


@dataclass
class Reading:
    """One group's (or an ungrouped SLO's) ratios, sources and coverage per window."""

    labels: dict[str, str]
    ratios: dict[int, float | None] = field(default_factory=dict)
    sources: dict[int, Source] = field(default_factory=dict)
    coverage: dict[int, float | None] = field(default_factory=dict)
    alerts: list[Mapping[str, str]] = field(default_factory=list)
    insufficient: bool = False  # the SLO window's recorded history is short, no source answer


def group_key(slo: SLO, labels: Mapping[str, str]) -> GroupKey:
    return tuple(labels.get(g, "") for g in slo.group_by)


def readings(slo: SLO, samples: Sequence[Sample], source: Source) -> dict[GroupKey, Reading]:
    """Ratios and coverage per group from one status answer; alerts are attached after."""
    out: dict[GroupKey, Reading] = {}
    for s in samples:
        if s.labels.get("__name__") == "ALERTS":
            continue
        key = group_key(slo, s.labels)
        reading = out.setdefault(key, Reading(dict(zip(slo.group_by, key, strict=True))))
        if (w := s.labels.get(queries.WINDOW_LABEL)) is not None:
            reading.ratios[parse_duration(w)] = clean(s.value)
            reading.sources[parse_duration(w)] = source
        elif (c := s.labels.get(queries.COVERAGE_LABEL)) is not None:
            reading.coverage[parse_duration(c)] = clean(s.value)
    return out


def untrusted_windows(
    slo: SLO, windows: tuple[int, ...], rs: Mapping[GroupKey, Reading]
) -> set[int]:
    """Windows to read from the source queries: missing for some group, or composed and not
    covered enough by the recorded series."""
    if not rs:
        return set(windows)
    return {
        w
        for w in windows
        for r in rs.values()
        if w not in r.ratios or not queries.trusted(r.coverage.get(w))
    }


def merge_source(
    slo: SLO, rs: dict[GroupKey, Reading], source_samples: Sequence[Sample], windows: set[int]
) -> None:
    """Replace ``windows`` in every reading with the source queries' numbers. A window the
    source cannot answer keeps its recorded number only if trusted; the SLO window without
    any trustworthy number makes the reading ``insufficient``."""
    by_source = readings(slo, source_samples, "source_query")
    for key, found in by_source.items():
        rs.setdefault(key, Reading(found.labels))
    for key, r in rs.items():
        src = by_source.get(key)
        for w in windows:
            if src is not None and w in src.ratios:
                r.ratios[w] = src.ratios[w]
                r.sources[w] = "source_query"
            elif not queries.trusted(r.coverage.get(w)):
                r.ratios[w] = None
                if w == slo.window:
                    r.insufficient = True


def attach_alerts(slo: SLO, rs: dict[GroupKey, Reading], samples: Sequence[Sample]) -> None:
    """Each firing alert goes to the group whose labels it carries (to every group when it
    carries none of the group labels)."""
    for s in samples:
        if s.labels.get("__name__") != "ALERTS":
            continue
        if not any(g in s.labels for g in slo.group_by):
            for r in rs.values():
                r.alerts.append(s.labels)
            continue
        key = group_key(slo, s.labels)
        rs.setdefault(key, Reading(dict(zip(slo.group_by, key, strict=True)))).alerts.append(
            s.labels
        )
