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

from sloplane.api import firing, reading
from sloplane.api.backend import SharedPrometheus
from sloplane.api.board import StatusBoard
from sloplane.api.cache import ByteBudgetCache
from sloplane.api.schemas import (
    AlertHistory,
    DataSource,
    HistoryPoint,
    SLOHistory,
    SLOStatus,
    WindowReading,
)
from sloplane.api.status import alerts_from_labels, compute_status, status_windows
from sloplane.clients.prometheus import PrometheusError, Sample, Series
from sloplane.slo import queries
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration, parse_duration
from sloplane.slo.model import SLO
from sloplane.slo.queries import clean

SOURCES: tuple[DataSource, ...] = ("recording_rules", "source_query")


SOURCE_HINT_SECONDS = 300.0
STALE_HOLD = 2.0
"""Seconds an answer built from statuses being refreshed may be replayed (see max_age)."""


@dataclass
class SLOService:
    catalog: Catalog
    client: SharedPrometheus
    # SLOs whose recorded series were missing: go straight to the source queries for a
    # while, so a backend without sloplane's rules still costs one query per SLO per period.
    _source_hint: dict[str, float] = field(default_factory=dict)
    # Rendered status documents per (SLO, requested time): only for a time asked for
    # (``at``); "now" is the board's. Bounded in bytes; an entry lives one period.
    _rendered: ByteBudgetCache[bytes] = field(
        default_factory=lambda: ByteBudgetCache(8 * 2**20, len)
    )
    status_max_age: float = 300.0
    """Seconds the board may serve a status "now" after its evaluation (then a request waits)."""
    refresh_concurrency: int = 8
    board: StatusBoard = field(init=False)

    def __post_init__(self) -> None:
        self.board = StatusBoard(
            lambda slo, t: self._compute(slo, t, now=True),
            lambda: self.eval_time(None),
            concurrency=self.refresh_concurrency,
            max_age=self.status_max_age,
            background=self.client.cache_ttl > 0,
        )

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
        """The SLO's status: for ``group_by`` SLOs the worst group's, naming it."""
        return (await self.group_statuses(slo, at))[0]

    async def group_statuses(self, slo: SLO, at: float | None = None) -> list[SLOStatus]:
        """Every group's status, worst first (one entry for an SLO without ``group_by``).

        "Now" comes from the board: the last value, refreshed in the background when the
        cache period ends (its ``evaluated_at`` says when it was true)."""
        if at is None:
            return (await self.board.get(slo)).statuses()
        return await self._compute(slo, at, now=False)

    async def _compute(self, slo: SLO, t: float, now: bool) -> list[SLOStatus]:
        """Every group's status at ``t``, read from the backend.

        One query reads every window's recorded ratio per group, the coverage of the
        composed windows and the firing alerts; a second one, only when needed, reads
        from the source queries the windows the recorded series do not have or do not
        cover enough (rules loaded recently, no backfill)."""
        windows = status_windows(slo)
        alerts = queries.firing_alerts(slo)
        if self._sources(slo, None if now else t) == ("source_query",):
            expr = f"{queries.multi_window(slo, windows, 'source_query', True)} or {alerts}"
            samples = await self.client.instant(expr, at=t)
            found = reading.readings(slo, samples, "source_query")
        else:
            parts = [queries.multi_window(slo, windows, "recording_rules", True)]
            parts += [c for c in [queries.coverage(slo, windows, True)] if c]
            samples = await self.client.instant(" or ".join([*parts, alerts]), at=t)
            found = reading.readings(slo, samples, "recording_rules")
            redo = reading.untrusted_windows(slo, windows, found)
            if redo:
                if now and not any(slo.window in r.ratios for r in found.values()):
                    self._source_hint[slo.id] = time.monotonic() + SOURCE_HINT_SECONDS
                expr = queries.multi_window(slo, tuple(sorted(redo)), "source_query", True)
                reading.merge_source(slo, found, await self.client.instant(expr, at=t), redo)
        reading.attach_alerts(slo, found, samples)
        if not found:
            # no numbers at all: the status still names the alerts firing (the no-data
            # alert fires exactly then)
            found = {(): reading.Reading({})}
            reading.attach_alerts(slo, found, samples)
        statuses = [_group_status(slo, r, windows, t, len(found)) for r in found.values()]
        return sorted(statuses, key=_severity)

    async def status_json(self, slo: SLO, at: float | None = None) -> bytes:
        """The status document: "now" from the board (rendered once per value), a time
        asked for cached per SLO for one cache period."""
        if at is None:
            entry = await self.board.get(slo)
            if entry.body is None:
                entry.body = entry.statuses()[0].model_dump_json().encode()
            return entry.body
        key = (slo.id, at)
        hit = self._rendered.get(key)
        if hit is not None:
            return hit
        body = (await self.status(slo, at)).model_dump_json().encode()
        self._rendered.put(key, body, self.client.cache_ttl)
        return body

    def max_age(self, slos: Sequence[SLO], at: float | None) -> int:
        """Seconds an answer built from these SLOs' statuses may be reused (sent as
        ``Cache-Control: max-age``, which the response cache honours). "Now": until the
        period ends when every status on the board is of the current period; while a
        refresh runs, :data:`STALE_HOLD` seconds at most, so an answer lags the board by
        no more than that (each status still says when it was evaluated) and a list of
        1,000 SLOs is not rebuilt for every request of a refresh. A time asked for: one
        cache period."""
        ttl = self.client.cache_ttl
        if at is not None:
            return max(0, math.floor(ttl))
        period = self.eval_time(None)
        if not self.board.all_fresh([s.id for s in slos], period):
            return max(0, math.floor(min(ttl, STALE_HOLD)))
        return max(0, math.floor(period + ttl - time.time()))

    async def statuses(self, slos: Sequence[SLO], at: float | None = None) -> list[SLOStatus]:
        return list(await asyncio.gather(*(self.status(s, at) for s in slos)))

    async def statuses_or_errors(
        self, slos: Sequence[SLO], at: float | None = None
    ) -> list[SLOStatus | PrometheusError]:
        """Each SLO's status, or the backend's failure for that SLO (for the inventory)."""

        async def one(slo: SLO) -> SLOStatus | PrometheusError:
            try:
                return await self.status(slo, at)
            except PrometheusError as exc:
                return exc

        return list(await asyncio.gather(*(one(s) for s in slos)))

    async def alert_history(self, slo: SLO, start: float, end: float) -> AlertHistory:
        """The SLO's alert firing intervals over [start, end] from ``ALERTS`` (see
        :mod:`sloplane.api.firing`): one range query, under the client's point limit.
        The range is taken in whole seconds, so the grid's last time is exactly ``end``
        on the wire (the client sends milliseconds) and an alert firing then is ongoing."""
        end = math.floor(end)
        start = min(math.ceil(start), end)
        step = firing.step_for(start, end)
        query = queries.firing_alerts(slo)
        series = await self.client.range(query, firing.grid_start(start, end, step), end, step)
        return AlertHistory(
            id=slo.id,
            start=start,
            end=end,
            step=step,
            query=query,
            intervals=firing.intervals(series, start, end, step),
        )

    async def coverage_at(self, slo: SLO, t: float) -> float | None:
        """Share of the SLO window the recorded series cover at ``t`` (the least covered
        group's); None when the window is not composed or its coverage is not recorded."""
        expr = queries.coverage(slo, (slo.window,))
        if expr is None:
            return None
        samples = await self.client.instant(expr, at=t)
        return min((v for s in samples if (v := clean(s.value)) is not None), default=None)

    async def history(
        self,
        slo: SLO,
        start: float,
        end: float,
        step: float,
        group: dict[str, str] | None = None,
    ) -> SLOHistory:
        """``group``: one group of a ``group_by`` SLO (every window that group's); without
        it, each point and window is the worst group's at that point."""
        burn_window = _history_burn_window(slo)
        windows = tuple(sorted({slo.window, burn_window}))
        series: list[Series] = []
        source: DataSource = "recording_rules"
        covered = await self.coverage_at(slo, start)
        sources = SOURCES if queries.trusted(covered) else ("source_query",)
        for source in sources:
            expr = queries.multi_window(slo, windows, source, by_group=group is not None)
            series = await self.client.range(expr, start, end, step)
            if group is not None:
                series = [x for x in series if all(x.labels.get(k) == v for k, v in group.items())]
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
            coverage_ratio_at_start=covered,
            group=group,
            points=points,
        )


STATUS_ORDER = {"breached": 0, "at_risk": 1, "insufficient_data": 2, "ok": 3, "no_data": 4}


def _severity(s: SLOStatus) -> tuple[int, float, list[tuple[str, str]]]:
    """Worst first: by status, then the least budget left, then the group's labels."""
    remaining = s.error_budget.remaining_ratio
    return (
        STATUS_ORDER[s.status],
        math.inf if remaining is None else remaining,
        sorted((s.group or {}).items()),
    )


def _group_status(
    slo: SLO, r: reading.Reading, windows: tuple[int, ...], t: float, groups: int
) -> SLOStatus:
    source = r.sources.get(slo.window, "source_query")
    st = compute_status(slo, r.ratios, alerts_from_labels(r.alerts), source, t)
    covered = r.coverage.get(slo.window)
    return st.model_copy(
        update={
            "status": "insufficient_data" if r.insufficient else st.status,
            "windows": [
                WindowReading(
                    window=_fmt(w),
                    source=r.sources.get(w, "source_query"),
                    coverage_ratio=r.coverage.get(w),
                )
                for w in windows
            ],
            "covered_seconds": None if covered is None else covered * slo.window,
            "group": r.labels if slo.group_by else None,
            "groups": groups if slo.group_by else None,
        }
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
