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

from sloplane.clients.prometheus import AsyncPromReader, Series
from sloplane.reports.model import BurnPoint, DayResult, Incident, Report, SLOWeek, Trend
from sloplane.reports.weeks import days_of, week_bounds
from sloplane.slo import queries
from sloplane.slo.catalog import Catalog
from sloplane.slo.durations import parse_duration
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


async def _source(client: AsyncPromReader, slo: SLO, at: float) -> DataSource:
    found = await client.instant(queries.recorded_ratio(slo, slo.window), at=at)
    return "recording_rules" if found else "source_query"


async def _ratios(
    client: AsyncPromReader, slo: SLO, windows: tuple[int, ...], at: float, src: DataSource
) -> dict[int, float | None]:
    samples = await client.instant(queries.multi_window(slo, windows, src), at=at)
    return {parse_duration(s.labels[queries.WINDOW_LABEL]): clean(s.value) for s in samples}


async def _slo_week(
    client: AsyncPromReader,
    slo: SLO,
    start_dt: datetime,
    end_dt: datetime,
    days: Sequence[tuple[datetime, datetime]],
) -> SLOWeek:
    start, end = start_dt.timestamp(), end_dt.timestamp()
    src = await _source(client, slo, end)
    now, before, daily, burn_down, alerts = await asyncio.gather(
        _ratios(client, slo, tuple(sorted({WEEK, slo.window})), end, src),
        _ratios(client, slo, (WEEK,), start, src),
        asyncio.gather(
            *(_ratios(client, slo, (DAY,), d_end.timestamp(), src) for _, d_end in days)
        ),
        client.range(queries.ratio(slo, slo.window, src), start, end, BURN_DOWN_STEP),
        client.samples(queries.firing_alerts(slo), f"{WEEK}s", end),
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
