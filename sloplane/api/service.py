"""Reads SLO status and history from the PromQL backend (the I/O half of the API).

Recorded series are tried first; when the backend has none for an SLO (rules not
deployed yet, or a backend that only sees raw metrics) the SLI source queries are
used instead and the response says so in ``source``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sloplane.api.backend import SharedPrometheus
from sloplane.api.schemas import DataSource, HistoryPoint, SLOHistory, SLOStatus
from sloplane.api.status import alerts_from_labels, compute_status, status_windows
from sloplane.clients.prometheus import Sample, Series
from sloplane.slo import queries
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration, parse_duration
from sloplane.slo.model import SLO
from sloplane.slo.queries import clean

SOURCES: tuple[DataSource, ...] = ("recording_rules", "source_query")


SOURCE_HINT_SECONDS = 300.0


@dataclass
class SLOService:
    catalog: Catalog
    client: SharedPrometheus
    # SLOs whose recorded series were missing: go straight to the source queries for a
    # while, so a backend without sloplane's rules still costs one query per SLO per period.
    _source_hint: dict[str, float] = field(default_factory=dict)
    # Rendered status documents per (SLO, requested time or None for now).
    _rendered: dict[tuple[str, float | None], tuple[float, bytes]] = field(default_factory=dict)
    _refreshing: dict[tuple[str, float | None], asyncio.Task[bytes]] = field(default_factory=dict)

    def _sources(self, slo: SLO, at: float | None) -> tuple[DataSource, ...]:
        if at is None and self._source_hint.get(slo.id, 0.0) > time.monotonic():
            return ("source_query",)
        return SOURCES

    def eval_time(self, at: float | None) -> float:
        """``at``, or now rounded down to the cache period so concurrent callers share a query."""
        if at is not None:
            return at
        ttl = max(self.client.cache_ttl, 0.001)
        return math.floor(time.time() / ttl) * ttl

    async def status(self, slo: SLO, at: float | None = None) -> SLOStatus:
        t = self.eval_time(at)
        windows = status_windows(slo)
        for source in self._sources(slo, at):
            # one query per SLO: every window's ratio and the firing alerts together
            expr = f"{queries.multi_window(slo, windows, source)} or {queries.firing_alerts(slo)}"
            samples = await self.client.instant(expr, at=t)
            ratios = _ratios(samples)
            if ratios.get(slo.window) is not None or source == "source_query":
                if source == "source_query" and at is None:
                    self._source_hint[slo.id] = time.monotonic() + SOURCE_HINT_SECONDS
                alerts = [s.labels for s in samples if s.labels.get("__name__") == "ALERTS"]
                return compute_status(slo, ratios, alerts_from_labels(alerts), source, t)
        raise AssertionError("unreachable")

    async def status_json(self, slo: SLO, at: float | None = None) -> bytes:
        """The status document, cached per SLO for one cache period.

        "Now" is served stale-while-revalidate: when the period ends the previous
        document is returned at once while one background refresh runs, so a slow
        backend query never stalls the requests arriving at a period boundary.
        """
        key = (slo.id, at)
        now = time.monotonic()
        hit = self._rendered.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if hit is not None and at is None and hit[0] + self.client.cache_ttl > now:
            if key not in self._refreshing:
                task = asyncio.create_task(self._render(slo, at))
                self._refreshing[key] = task
                task.add_done_callback(partial(_forget, self._refreshing, key))
            return hit[1]
        pending = self._refreshing.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        return await self._render(slo, at)

    async def _render(self, slo: SLO, at: float | None) -> bytes:
        body = (await self.status(slo, at)).model_dump_json().encode()
        now = time.monotonic()
        if len(self._rendered) > 10_000:
            self._rendered = {k: v for k, v in self._rendered.items() if v[0] > now}
        self._rendered[(slo.id, at)] = (now + self.client.cache_ttl, body)
        return body

    async def statuses(self, slos: Sequence[SLO], at: float | None = None) -> list[SLOStatus]:
        return list(await asyncio.gather(*(self.status(s, at) for s in slos)))

    async def history(self, slo: SLO, start: float, end: float, step: float) -> SLOHistory:
        burn_window = _history_burn_window(slo)
        windows = tuple(sorted({slo.window, burn_window}))
        series: list[Series] = []
        source: DataSource = "recording_rules"
        for source in SOURCES:
            expr = queries.multi_window(slo, windows, source)
            series = await self.client.range(expr, start, end, step)
            if series:
                break
        by_window: dict[int, dict[float, float]] = {}
        for s in series:
            w = parse_duration(s.labels[queries.WINDOW_LABEL])
            by_window[w] = {t: v for t, v in s.points}
        times = sorted({t for points in by_window.values() for t in points})
        points = []
        for t in times:
            sli_ratio = _maybe(by_window.get(slo.window, {}).get(t))
            burn_ratio = _maybe(by_window.get(burn_window, {}).get(t))
            points.append(
                HistoryPoint(
                    t=t,
                    sli=None if sli_ratio is None else 1 - sli_ratio,
                    budget_remaining_ratio=slo.budget_remaining(sli_ratio),
                    burn_rate=slo.burn_rate(burn_ratio),
                )
            )
        return SLOHistory(
            id=slo.id,
            start=start,
            end=end,
            step=step,
            burn_rate_window=_fmt(burn_window),
            source=source,
            points=points,
        )


def _forget(tasks: dict[Any, Any], key: Any, _task: object) -> None:
    tasks.pop(key, None)


def _history_burn_window(slo: SLO) -> int:
    """The shortest page window (1h for 30d SLOs): smooth enough to chart, fast enough to matter."""
    page = slo.burn_windows("page") or slo.all_burn_windows()
    return min((w.long for w in page), default=slo.window)


def _ratios(samples: Sequence[Sample]) -> dict[int, float | None]:
    out: dict[int, float | None] = {}
    for s in samples:
        w = s.labels.get(queries.WINDOW_LABEL)
        if w is not None:
            out[parse_duration(w)] = clean(s.value)
    return out


def _maybe(value: float | None) -> float | None:
    return None if value is None else clean(value)


def _fmt(seconds: int) -> str:
    return format_duration(seconds)


def group_statuses(statuses: Sequence[SLOStatus], key: str) -> Mapping[str, list[SLOStatus]]:
    groups: dict[str, list[SLOStatus]] = {}
    for s in statuses:
        k = s.service if key == "service" else (s.team or "")
        groups.setdefault(k, []).append(s)
    return groups
