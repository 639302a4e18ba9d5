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
from dataclasses import dataclass

from sloplane.api import queries
from sloplane.api.prometheus import PromClient, Sample, Series
from sloplane.api.schemas import DataSource, HistoryPoint, SLOHistory, SLOStatus
from sloplane.api.status import alerts_from_labels, burn, clean, compute_status, status_windows
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration, parse_duration
from sloplane.slo.model import SLO

SOURCES: tuple[DataSource, ...] = ("recording_rules", "source_query")


@dataclass
class SLOService:
    catalog: Catalog
    client: PromClient

    def eval_time(self, at: float | None) -> float:
        """``at``, or now rounded down to the cache period so concurrent callers share a query."""
        if at is not None:
            return at
        ttl = max(self.client.cache_ttl, 0.001)
        return math.floor(time.time() / ttl) * ttl

    async def status(self, slo: SLO, at: float | None = None) -> SLOStatus:
        t = self.eval_time(at)
        windows = status_windows(slo)
        for source in SOURCES:
            # one query per SLO: every window's ratio and the firing alerts together
            expr = f"{queries.multi_window(slo, windows, source)} or {queries.firing_alerts(slo)}"
            samples = await self.client.instant(expr, at=t)
            ratios = _ratios(samples)
            if ratios.get(slo.window) is not None or source == "source_query":
                alerts = [s.labels for s in samples if s.labels.get("__name__") == "ALERTS"]
                return compute_status(slo, ratios, alerts_from_labels(alerts), source, t)
        raise AssertionError("unreachable")

    async def statuses(self, slos: Sequence[SLO], at: float | None = None) -> list[SLOStatus]:
        t = self.eval_time(at)
        return list(await asyncio.gather(*(self.status(s, t) for s in slos)))

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
            consumed = burn(sli_ratio, slo)
            points.append(
                HistoryPoint(
                    t=t,
                    sli=None if sli_ratio is None else 1 - sli_ratio,
                    budget_remaining_ratio=None if consumed is None else 1 - consumed,
                    burn_rate=burn(burn_ratio, slo),
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
