"""Collect one week of SLO numbers from the PromQL backend.

Definitions (also in docs/api.md):

* week SLI: 1 - error ratio over the week (total errors / total events for event SLIs);
* window SLI: the same over the SLO window ending at the end of the week;
* budget consumed this week: ``(week error ratio / error budget) * (week / window)``,
  the share of the window's budget the week used at the week's average traffic;
* budget remaining: ``1 - window error ratio / error budget`` at the end of the week;
* both are computed with :meth:`SLO.burn_rate`, as the API's are: None without a budget;
* incidents: runs of ``ALERTS{alertstate="firing"}`` samples for the SLO, split at gaps
  longer than five minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from sloplane.clients.prometheus import AsyncPromReader, Sample, Series
from sloplane.reports.model import (
    BurnPoint,
    DayResult,
    GroupWeek,
    Incident,
    Report,
    SLOWeek,
    Trend,
)
from sloplane.reports.weeks import days_of, week_bounds
from sloplane.slo import queries
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import format_duration, parse_duration
from sloplane.slo.facts import SLOFacts
from sloplane.slo.model import SLO
from sloplane.slo.queries import Source as DataSource
from sloplane.slo.queries import clean

WEEK = 7 * 86400
DAY = 86400
INCIDENT_GAP = 300.0
BURN_DOWN_STEP = 6 * 3600


class ScopeError(ValueError):
    pass


class UnknownScope(ScopeError):
    """A well-formed scope naming a team or service the catalog does not have."""


def select_slos(catalog: Catalog, scope: str) -> tuple[SLO, ...]:
    """``all``, ``team:<name>`` or ``service:<name>``; an unknown team or service is an error
    (an empty report would read as "0/0 met" and hide the typo)."""
    if scope == "all":
        return catalog.slos
    kind, _, value = scope.partition(":")
    if kind == "team" and value:
        slos = tuple(s for s in catalog.slos if s.team == value)
    elif kind == "service" and value:
        slos = catalog.for_service(value)
    else:
        raise ScopeError(f"invalid scope {scope!r}: use all, team:<name> or service:<name>")
    if not slos:
        raise UnknownScope(f"no SLOs for {kind} {value!r}")
    return slos


async def build_report(
    catalog: Catalog, client: AsyncPromReader, week: str, scope: str = "all", tz: str = "UTC"
) -> Report:
    start, end = week_bounds(week, tz)
    slos = select_slos(catalog, scope)
    days = days_of(week, tz)
    weeks = await asyncio.gather(*(_slo_week(client, s, start, end, days) for s in slos))
    return Report(
        scope=scope,
        week=week,
        timezone=tz,
        start=start.timestamp(),
        end=end.timestamp(),
        slos=list(weeks),
    )


async def _source(
    client: AsyncPromReader, slo: SLO, start: float, end: float
) -> tuple[DataSource, float | None]:
    """The recorded series when they hold the SLO window at the week's end and cover it at
    both ends of the week (the roll-up tier's coverage, 99%); else the source queries
    over whole windows.
    Returns the source and the SLO window's coverage at the end (None: not recorded)."""
    probe = queries.recorded_ratio(slo, slo.window)
    cover = queries.coverage(slo, (slo.window,))
    at_end, at_start = await asyncio.gather(
        client.instant(probe + (f" or {cover}" if cover else ""), at=end),
        client.instant(cover, at=start) if cover else _nothing(),
    )
    found = any(s.labels.get(queries.COVERAGE_LABEL) is None for s in at_end)
    covered_end = _coverage(at_end)
    complete = all(queries.trusted(c) for c in (covered_end, _coverage(at_start)))
    return ("recording_rules" if found and complete else "source_query"), covered_end


async def _failing_groups(
    client: AsyncPromReader, slo: SLO, end: float, src: DataSource
) -> list[GroupWeek]:
    """The groups of a ``group_by`` SLO under the objective over the week, worst first;
    read from the same source as the SLO's numbers (source queries if the recorded
    series cannot answer a week)."""
    if not slo.group_by:
        return []
    windows = tuple(sorted({WEEK, slo.window}))
    by_group = await _group_ratios(client, slo, windows, end, src)
    if src == "recording_rules" and (not by_group or any(WEEK not in r for r in by_group.values())):
        by_group = await _group_ratios(client, slo, windows, end, "source_query")
    failing = [
        GroupWeek(
            group=dict(zip(slo.group_by, key, strict=True)),
            week_sli=_sli(r.get(WEEK)),
            window_sli=_sli(r.get(slo.window)),
            budget_remaining_ratio=slo.budget_remaining(r.get(slo.window)),
        )
        for key, r in by_group.items()
        if (sli := _sli(r.get(WEEK))) is not None and sli < slo.objective
    ]
    return sorted(failing, key=lambda g: (g.week_sli or 0.0, sorted(g.group.items())))


async def _group_ratios(
    client: AsyncPromReader, slo: SLO, windows: tuple[int, ...], at: float, src: DataSource
) -> dict[tuple[str, ...], dict[int, float | None]]:
    samples = await client.instant(queries.multi_window(slo, windows, src, True), at=at)
    out: dict[tuple[str, ...], dict[int, float | None]] = {}
    for s in samples:
        key = tuple(s.labels.get(g, "") for g in slo.group_by)
        window = parse_duration(s.labels[queries.WINDOW_LABEL])
        out.setdefault(key, {})[window] = clean(s.value)
    return out


async def _nothing() -> list[Sample]:
    return []


def _coverage(samples: Sequence[Sample]) -> float | None:
    values = [
        v
        for s in samples
        if s.labels.get(queries.COVERAGE_LABEL) is not None and (v := clean(s.value)) is not None
    ]
    return min(values, default=None)


async def _ratios(
    client: AsyncPromReader,
    slo: SLO,
    windows: tuple[int, ...],
    at: float,
    src: DataSource,
    fell_back: set[int] | None = None,
) -> dict[int, float | None]:
    """Error ratios per window from ``src``; a window the recorded series cannot answer
    (e.g. a week before the roll-up tier existed) is read from the source queries and
    added to ``fell_back``, so the report can say so."""
    samples = await client.instant(queries.multi_window(slo, windows, src), at=at)
    out = {parse_duration(s.labels[queries.WINDOW_LABEL]): clean(s.value) for s in samples}
    missing = tuple(w for w in windows if w not in out)
    if src == "recording_rules" and missing:
        expr = queries.multi_window(slo, missing, "source_query")
        for s in await client.instant(expr, at=at):
            out[parse_duration(s.labels[queries.WINDOW_LABEL])] = clean(s.value)
        if fell_back is not None:
            fell_back.update(missing)
    return out


async def _slo_week(
    client: AsyncPromReader,
    slo: SLO,
    start_dt: datetime,
    end_dt: datetime,
    days: Sequence[tuple[datetime, datetime]],
) -> SLOWeek:
    start, end = start_dt.timestamp(), end_dt.timestamp()
    src, covered = await _source(client, slo, start, end)
    fell_back: set[int] = set()
    now, before, daily, burn_down, alerts, groups = await asyncio.gather(
        _ratios(client, slo, tuple(sorted({WEEK, slo.window})), end, src, fell_back),
        _ratios(client, slo, (WEEK,), start, src, fell_back),
        asyncio.gather(
            *(_ratios(client, slo, (DAY,), d_end.timestamp(), src, fell_back) for _, d_end in days)
        ),
        client.range(queries.ratio(slo, slo.window, src), start, end, BURN_DOWN_STEP),
        client.samples(queries.firing_alerts(slo), f"{WEEK}s", end),
        _failing_groups(client, slo, end, src),
    )
    week_ratio, window_ratio = now.get(WEEK), now.get(slo.window)
    prev_ratio = before.get(WEEK)
    day_results = [
        _day(slo, d_start, r.get(DAY)) for (d_start, _), r in zip(days, daily, strict=True)
    ]
    measured = [d for d in day_results if d.sli is not None]
    worst = min(measured, key=lambda d: d.sli or 0.0) if measured else None
    consumed = _consumed(slo, week_ratio)
    remaining = slo.budget_remaining(window_ratio)
    return SLOWeek(
        **SLOFacts.fields_from(slo),
        week_sli=_sli(week_ratio),
        week_met=None if week_ratio is None else 1 - week_ratio >= slo.objective,
        window_sli=_sli(window_ratio),
        window_met=None if window_ratio is None else 1 - window_ratio >= slo.objective,
        budget_consumed_week_ratio=consumed,
        budget_consumed_week_minutes=None if consumed is None else consumed * slo.budget_minutes,
        budget_remaining_ratio=remaining,
        budget_remaining_minutes=None if remaining is None else remaining * slo.budget_minutes,
        worst_day=worst,
        days=day_results,
        incidents=incidents(alerts),
        previous_week_sli=_sli(prev_ratio),
        previous_budget_consumed_ratio=_consumed(slo, prev_ratio),
        trend=trend(_sli(week_ratio), _sli(prev_ratio), trend_band(slo)),
        burn_down=_burn_down(slo, burn_down),
        source=src,
        window_coverage_ratio=covered,
        failing_groups=groups,
        source_query_windows=[format_duration(w) for w in sorted(fell_back)],
    )


def _sli(ratio: float | None) -> float | None:
    return None if ratio is None else 1 - ratio


def _consumed(slo: SLO, week_ratio: float | None) -> float | None:
    burn = slo.burn_rate(week_ratio)
    return None if burn is None else burn * WEEK / slo.window


def _day(slo: SLO, day_start: datetime, ratio: float | None) -> DayResult:
    return DayResult(
        date=day_start.date().isoformat(),
        sli=_sli(ratio),
        met=None if ratio is None else 1 - ratio >= slo.objective,
    )


def _burn_down(slo: SLO, series: Sequence[Series]) -> list[BurnPoint]:
    points = {t: clean(v) for s in series for t, v in s.points}
    return [
        BurnPoint(t=t, budget_remaining_ratio=slo.budget_remaining(r))
        for t, r in sorted(points.items())
    ]


SHOWN_RESOLUTION = 1e-5
"""The smallest SLI difference the report shows (percentages with three decimals)."""
BUDGET_SHARE = 0.01
"""A change under this share of the error budget is noise, not a trend."""


def trend_band(slo: SLO) -> float:
    """Weeks whose SLIs differ by less than this read "same": a hundredth of the error
    budget, and never more than the report's resolution, so two weeks that print alike
    never read as better or worse."""
    return min(SHOWN_RESOLUTION, BUDGET_SHARE * slo.error_budget)


def trend(current: float | None, previous: float | None, band: float = 0.0) -> Trend:
    """Better, worse or the same SLI as the previous week, with a dead band of ``band``."""
    if current is None or previous is None:
        return "unknown"
    if current - previous >= band and current > previous:
        return "better"
    if previous - current >= band and current < previous:
        return "worse"
    return "same"


def incidents(series: Sequence[Series], gap: float = INCIDENT_GAP) -> list[Incident]:
    """Firing intervals: consecutive samples of one alert, split where samples stop for > gap."""
    by_alert: dict[tuple[str, str], list[float]] = {}
    for s in series:
        key = (s.labels.get("alertname", ""), s.labels.get("severity", ""))
        by_alert.setdefault(key, []).extend(t for t, v in s.points if v > 0)
    out: list[Incident] = []
    for (name, severity), times in sorted(by_alert.items()):
        ts = sorted(set(times))
        if not ts:
            continue
        first = prev = ts[0]
        for t in [*ts[1:], None]:
            if t is None or t - prev > gap:
                out.append(
                    Incident(
                        alertname=name,
                        severity=severity,
                        start=first,
                        end=prev,
                        duration_seconds=prev - first,
                    )
                )
                if t is not None:
                    first = t
            if t is not None:
                prev = t
    return sorted(out, key=lambda i: (i.start, i.alertname))
