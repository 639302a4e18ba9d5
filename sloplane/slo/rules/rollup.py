"""The roll-up tier: long windows as whole clock-hour buckets plus a head and a tail.

Reading ``sum_over_time`` of the 5m rates over 30 days decodes 43,200 samples per series
at every evaluation: three quarters of all rule time. Here a long window is composed from
pieces that each read a handful of samples, and the result is still total errors over
total events, exact on the 5-minute grid:

* Every 5m rate is read at the *absolute* 5-minute grid (subqueries ``[..:5m]`` are
  aligned to multiples of 5 minutes, whatever a group's evaluation offset is). A 5m rate
  covers the 5 minutes before its timestamp, so grid points tile time: each event counts
  once (exactly when the evaluation interval divides 5m).
* The roll-up group (every 30m) records, per clock hour, the sum of its 12 grid points
  (``slo:sli_errors:sum1h`` ...) and how many have data (``slo:sli_samples:count1h``).
  It reads the hour that ended at least 5 minutes ago, so every 5m rate it needs exists.
  It may record the same hour twice; readers take one value per hour, so that is harmless.
* The fast group records the sum of the grid points since the current clock hour began
  (``..._hour_so_far``: 0 to 11 points, chosen by the minute of the hour, because a
  PromQL range cannot depend on the time), and the *head*: the last 12 grid points plus
  the hour so far one hour ago, i.e. the previous clock hour and the current one so far.
* Every piece is read 5 minutes behind (``offset 5m``), so that no reader races the
  group that writes the newest 5m rate; a window is therefore 5 to 10 minutes old.
* A window of ``n + 1`` hours at time t is the buckets of the ``n`` clock hours before the
  head (one per hour mark, read with ``last_over_time(..[55m])`` at each mark), plus the
  head, minus ``..._hour_so_far offset <window>``: the grid points at the window's old end
  that the head's extra minutes pushed in. Both ends move with t on the 5-minute grid.

Nothing references its own output, so ``promtool tsdb create-blocks-from rules`` can
backfill every series. Missing pieces (before recording began, a Prometheus outage) read
as zero, and the coverage series count the grid points that were really there.
"""

from __future__ import annotations

from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLO
from sloplane.slo.naming import (
    BUCKET,
    ERRORS_BUCKET,
    ERRORS_HEAD,
    ERRORS_PARTIAL,
    ERRORS_RATE,
    GRID,
    SAMPLES_BUCKET,
    SAMPLES_HEAD,
    SAMPLES_PARTIAL,
    SOURCE_HISTORY,
    TOTAL_BUCKET,
    TOTAL_HEAD,
    TOTAL_PARTIAL,
    TOTAL_RATE,
    Labels,
    coverage_metric,
    coverage_windows,
)
from sloplane.slo.rules.common import Rule
from sloplane.slo.rules.sli import SliQueries

# (5m series, its bucket, hour-so-far and head names, the range function that rolls it up)
_TIERS = (
    (ERRORS_RATE, ERRORS_BUCKET, ERRORS_PARTIAL, ERRORS_HEAD, "sum_over_time"),
    (TOTAL_RATE, TOTAL_BUCKET, TOTAL_PARTIAL, TOTAL_HEAD, "sum_over_time"),
    (TOTAL_RATE, SAMPLES_BUCKET, SAMPLES_PARTIAL, SAMPLES_HEAD, "count_over_time"),
)
GRID_STEP = format_duration(GRID)
POINTS_PER_BUCKET = BUCKET // GRID
# Everything is read one grid step behind: a 5m rate recorded at the very moment a grid
# point passes may not be written yet when another group reads it (groups run
# concurrently), and the pieces of one window must all see the same grid points.
LAG = GRID
LAG_TEXT = format_duration(LAG)
# How far back the source is probed for data, longest first (plus the SLO window).
SOURCE_PROBES = (21 * 86400, 14 * 86400, 7 * 86400, 3 * 86400, 86400, 6 * 3600, 3600)


def just_under(seconds: int) -> str:
    """``seconds`` minus one millisecond as a duration (``3600`` -> ``59m59s999ms``).

    A range ``[1h:5m]`` holds 13 grid points in Prometheus 2 (both ends included) and 12
    in Prometheus 3; one millisecond less holds 12 in both.
    """
    return f"{format_duration(seconds - 1)}999ms" if seconds > 1 else "999ms"


def _hour_parity_is(parity: int, behind: int) -> str:
    """True (a sample) when the clock hour of ``time() - behind`` is even (0) or odd (1)."""
    return f"(floor((vector(time()) - {behind}) / {BUCKET}) % 2 == {parity})"


def _hour_so_far(series: str, func: str) -> str:
    """Grid points since the clock hour began, from two subqueries whatever the minute.

    The last 12 grid points span at most two clock hours, and two consecutive hours differ
    in parity. So the points of the current hour are the last 12 whose own hour has the
    current hour's parity: one subquery per parity masks the points by their hour, and the
    current hour's parity picks one result. (The previous shape kept one candidate
    subquery per 5-minute slot of the hour, 12 in all, and cost a third of all rule time.)

    A grid point ``g`` stands for the 5 minutes before it, so it belongs to the hour of
    ``g - 5m`` (the point on the hour mark closes the previous hour); inside the subquery
    the step is ``g + 5m`` (the selector reads 5 minutes behind), hence ``- 600``.
    No point of the current hour yet (the first 5 minutes) reads as 0.
    """
    parts = []
    for parity in (0, 1):
        points = f"({series} offset {LAG_TEXT} and on () {_hour_parity_is(parity, LAG + GRID)})"
        parts.append(
            f"({func}({points}[{just_under(BUCKET)}:{GRID_STEP}])"
            f" and on () {_hour_parity_is(parity, LAG)})"
        )
    parts.append(f"0 * {series}")
    return "\nor\n".join(parts)


def fast_rollup_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """The hour-so-far and head series (fast group, right after the 5m rates)."""
    if not coverage_windows(slo):
        return []
    series_labels = {**slo.labels, **labels.identity(slo)}
    sel = labels.selector(slo)
    rules = []
    for rate, _bucket, partial, _head, func in _TIERS:
        rules.append(
            Rule(record=partial, expr=_hour_so_far(rate + sel, func), labels=series_labels)
        )
    for rate, _bucket, partial, head, func in _TIERS:
        last_hour = f"{func}({rate}{sel}[{just_under(BUCKET)}:{GRID_STEP}] offset {LAG_TEXT})"
        expr = f"{last_hour}\n+\n(\n  {partial}{sel} offset 1h\n  or\n  0 * {rate}{sel}\n)"
        rules.append(Rule(record=head, expr=expr, labels=series_labels))
    return rules


def composed_sum(bucket: str, partial: str, head: str, sel: str, window: int) -> str:
    """Grid points of one series over ``window``: buckets + head - the tail's extra points."""
    marks = window // BUCKET - 1
    buckets = (
        f"sum_over_time(last_over_time({bucket}{sel}[55m])"
        f"[{just_under(marks * BUCKET)}:1h] offset {LAG_TEXT})"
    )
    return (
        f"(\n  {buckets}\n  or\n  0 * {head}{sel}\n)\n+ {head}{sel}\n"
        f"- (\n  {partial}{sel} offset {format_duration(window)}\n  or\n  0 * {head}{sel}\n)"
    )


def composed_ratio(sel: str, window: int) -> str:
    """The error ratio over ``window``: composed errors over composed events."""
    errors = composed_sum(ERRORS_BUCKET, ERRORS_PARTIAL, ERRORS_HEAD, sel, window)
    total = composed_sum(TOTAL_BUCKET, TOTAL_PARTIAL, TOTAL_HEAD, sel, window)
    return f"(\n{errors}\n)\n/\n(\n(\n{total}\n)\n> 0\n)"


def coverage_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """The share of each composed window the recorded 5m series cover (fast group)."""
    series_labels = {**slo.labels, **labels.identity(slo)}
    sel = labels.selector(slo)
    rules = []
    for window in coverage_windows(slo):
        points = composed_sum(SAMPLES_BUCKET, SAMPLES_PARTIAL, SAMPLES_HEAD, sel, window)
        rules.append(
            Rule(
                record=coverage_metric(window),
                expr=f"(\n{points}\n)\n/ {window // GRID}",
                labels=series_labels,
            )
        )
    return rules


def history_gate(slo: SLO, labels: Labels) -> str:
    """True (a sample) while the SLO window's recorded history is complete enough to trust.

    Complete means 99% of the window is covered, or the recorded series reach back as far
    as the SLI's source has data (less one hour: a new service, not a missing backfill).
    """
    sel = labels.selector(slo)
    coverage = f"{coverage_metric(slo.window)}{sel}"
    return (
        f"(\n  {coverage} >= 0.99\n  or\n"
        f"  {coverage} * {slo.window} >= last_over_time({SOURCE_HISTORY}{sel}[1h]) - 3600\n)"
    )


def rollup_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """The roll-up group: clock-hour buckets and the source-history probe."""
    if not coverage_windows(slo):
        return []
    series_labels = {**slo.labels, **labels.identity(slo)}
    sel = labels.selector(slo)
    rules = []
    for rate, bucket, _partial, _head, func in _TIERS:
        # the clock hour that ended at least 5 minutes ago, its 12 grid points
        inner = f"{func}({rate}{sel}[59m:{GRID_STEP}])"
        rules.append(
            Rule(
                record=bucket,
                expr=f"last_over_time({inner}[1h:1h] offset 5m)",
                labels=series_labels,
            )
        )
    rules.append(Rule(record=SOURCE_HISTORY, expr=_source_probe(slo), labels=series_labels))
    return rules


def _source_probe(slo: SLO) -> str:
    """The longest probed age at which the SLI's source query had data (0 if only now)."""
    total = SliQueries(slo.sli, slo.group_by).total(GRID)
    ages = sorted({slo.window, *(a for a in SOURCE_PROBES if a < slo.window)}, reverse=True)
    parts = [
        f"({age} + 0 * last_over_time(({total})[{GRID_STEP}:{GRID_STEP}] offset {format_duration(age)}))"
        for age in ages
    ]
    parts.append(f"(0 * ({total}))")
    return "\nor\n".join(parts)
