"""SLI recordings: 5m event rates, then the error ratio over every window that is needed.

Short windows (up to 2h) are computed from the source query, as Sloth does, so
that page alerts react within minutes. Longer windows are *not* averages of 5m
ratios (Sloth's approach, which misreports the budget when traffic is uneven):
they are ``sum_over_time`` of the recorded 5m error and total event rates, i.e.
total errors over total events in the window, read from two cheap pre-aggregated
series per SLO instead of the raw high-cardinality counters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple

from sloplane.slo.durations import format_duration
from sloplane.slo.model import SLI, SLO, AvailabilitySLI, EventsSLI, LatencySLI, RawSLI
from sloplane.slo.naming import (
    BASE_WINDOW,
    ERRORS_RATE,
    SHORT_WINDOW_MAX,
    TOTAL_RATE,
    Labels,
    long_windows,
    ratio_metric,
    recorded_windows,
)
from sloplane.slo.promql import render_template, window_query
from sloplane.slo.rules.common import Rule


class Events(NamedTuple):
    """The events an event-counting SLI states besides the total, as a windowed query."""

    query: str
    errors: bool  # True: the query counts error events; False: it counts good events


@dataclass(frozen=True)
class SliQueries:
    """PromQL for the error and total event rates of an SLI over any window."""

    sli: SLI
    group_by: tuple[str, ...]

    def errors(self, window: int) -> str:
        sli = self.sli
        events = self.events(window)
        if events is not None:
            total = self.total(window)
            if events.errors:
                return f"({events.query}) or (0 * ({total}))"
            # good events that select nothing (e.g. a threshold that names no bucket) must
            # look like 100% errors, not like no data
            return f"clamp_min(({total}) - (({events.query}) or (0 * ({total}))), 0)"
        w = format_duration(window)
        if isinstance(sli, RawSLI):
            # `>= 0` drops NaN (a 0/0 ratio with no traffic): one NaN would blind every
            # sum_over_time window for as long as the window is
            return f"({render_template(sli.error_ratio, w)}) >= 0"
        assert isinstance(sli, AvailabilitySLI)  # the event SLIs returned above
        return f"sum{self._by} (1 - avg_over_time({sli.gauge}[{w}]))"

    def total(self, window: int) -> str:
        w = format_duration(window)
        sli = self.sli
        if isinstance(sli, EventsSLI):
            return self._counter(sli.total, w)
        if isinstance(sli, LatencySLI):
            if sli.native:
                return f"histogram_count(sum{self._by} (rate({_selector(sli.metric, sli.selector)}[{w}])))"
            return f"sum{self._by} (rate({_selector(sli.metric + '_count', sli.selector)}[{w}]))"
        if isinstance(sli, RawSLI):
            return f"0 * (({render_template(sli.error_ratio, w)}) >= 0) + 1"
        return f"count{self._by} (avg_over_time({sli.gauge}[{w}]))"

    def ratio(self, window: int) -> str:
        """The error ratio over ``window`` straight from the source queries.

        The rules record it for windows up to 2h; the API and reports evaluate it for any
        window when the recorded series are missing, so both read the same events: every
        spelling of a latency bucket bound, a bucket that matches nothing as 100% slow,
        no error series as no errors, and no traffic as no sample.
        """
        return f"({self.errors(window)})\n/\n(({self.total(window)}) > 0)"

    def events(self, window: int) -> Events | None:
        """The error or good events as the SLI states them; None for ratio and gauge SLIs.

        :meth:`errors` wraps these in guards (``or 0 * total``, ``clamp_min``) so that no
        traffic or an empty bucket reads right; the guards are not linear in the input
        series. The generated unit tests (:mod:`.traffic`) solve for series values that
        give an error ratio, so they need the events as stated, next to :meth:`total`.
        """
        w = format_duration(window)
        sli = self.sli
        if isinstance(sli, EventsSLI):
            if sli.errors is not None:
                return Events(self._counter(sli.errors, w), errors=True)
            return Events(self._counter(sli.good or "", w), errors=False)
        if isinstance(sli, LatencySLI):
            return Events(_latency_good(sli, w, self._by), errors=False)
        return None

    @property
    def _by(self) -> str:
        return f" by ({', '.join(self.group_by)})" if self.group_by else ""

    def _counter(self, query: str, window: str) -> str:
        return window_query(query, window, self.group_by)


def _selector(metric: str, matchers: str, extra: str = "") -> str:
    parts = [p for p in (matchers, extra) if p]
    return f"{metric}{{{', '.join(parts)}}}" if parts else metric


def le_pattern(threshold: str) -> str:
    """A PromQL regex (escaped for a double-quoted string) for every spelling of a bucket bound.

    Go clients write ``1``, Python clients ``1.0``, and Prometheus 3 normalises to the
    latter; matching all of them keeps the SLI from silently selecting nothing.
    """
    spellings = [threshold]
    try:
        value = float(threshold)
    except ValueError:
        value = math.nan
    if math.isfinite(value):
        for text in (
            repr(value),
            format(value, "g"),
            str(int(value)) if value.is_integer() else "",
        ):
            if text and text not in spellings:
                spellings.append(text)
    return "|".join(re.escape(text).replace("\\", "\\\\") for text in spellings)


def _latency_good(sli: LatencySLI, window: str, by: str) -> str:
    if sli.native:
        hist = f"sum{by} (rate({_selector(sli.metric, sli.selector)}[{window}]))"
        return f"histogram_fraction(0, {sli.threshold}, {hist}) * histogram_count({hist})"
    bucket = _selector(sli.metric + "_bucket", sli.selector, f'le=~"{le_pattern(sli.threshold)}"')
    return f"sum{by} (rate({bucket}[{window}]))"


def sli_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """The 5m event rates and the error ratio over every window a page reads (fast group)."""
    queries = SliQueries(slo.sli, slo.group_by)
    series_labels = {**slo.labels, **labels.identity(slo)}
    slow = set(long_windows(slo))
    return [
        Rule(record=ERRORS_RATE, expr=queries.errors(BASE_WINDOW), labels=series_labels),
        Rule(record=TOTAL_RATE, expr=queries.total(BASE_WINDOW), labels=series_labels),
        *(_ratio_rule(slo, labels, queries, w) for w in recorded_windows(slo) if w not in slow),
    ]


def long_window_sli_rules(slo: SLO, labels: Labels) -> list[Rule]:
    """The error ratio over the long windows only tickets and the period read (slow group)."""
    queries = SliQueries(slo.sli, slo.group_by)
    return [_ratio_rule(slo, labels, queries, w) for w in long_windows(slo)]


def _ratio_rule(slo: SLO, labels: Labels, queries: SliQueries, window: int) -> Rule:
    ratio_labels = {**slo.labels, **labels.identity(slo)}
    if labels.window:
        ratio_labels[labels.window] = format_duration(window)
    return Rule(
        record=ratio_metric(window),
        expr=_ratio_expr(queries, window, labels.selector(slo)),
        labels=ratio_labels,
    )


def window_ratio(slo: SLO, window: int, labels: Labels) -> str:
    """The error ratio over ``window`` exactly as the rules compute it, for any window.

    The API and the reports read windows the rules do not record (a report's week or
    day) through this, so a number they show can never disagree with the rules'.
    """
    return _ratio_expr(SliQueries(slo.sli, slo.group_by), window, labels.selector(slo))


def _ratio_expr(queries: SliQueries, window: int, sel: str) -> str:
    if window == BASE_WINDOW:
        return f"{ERRORS_RATE}{sel} / ({TOTAL_RATE}{sel} > 0)"
    if window <= SHORT_WINDOW_MAX:
        return queries.ratio(window)
    w = format_duration(window)
    return f"sum_over_time({ERRORS_RATE}{sel}[{w}])\n/\n(sum_over_time({TOTAL_RATE}{sel}[{w}]) > 0)"
