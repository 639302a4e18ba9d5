"""Server-rendered SVG charts: no script, no library, readable in print and without JS.

Colours come from CSS classes (light and dark themes), never inline styles, so the
strict Content-Security-Policy holds. Each chart has a title and a description for
screen readers; the pages also give the numbers as text next to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from sloplane.console.views import number, when

Point = tuple[float, float | None]


@dataclass(frozen=True)
class HLine:
    value: float
    label: str
    css: str


def _f(x: float) -> str:
    return f"{x:.1f}"


def budget_bar(ratio: object, width: int = 100) -> Markup:
    """Remaining budget as a bar; an overspent budget is a full bar in the breach colour.

    Decorative (``aria-hidden``): the percentage is always written next to it. Kept
    small, since the list page draws one per SLO."""
    r = number(ratio)
    if r is None:
        fill = ""
    else:
        level = "bad" if r < 0 else "warn" if r < 0.25 else "good"
        filled = width if r < 0 else max(0.0, min(1.0, r)) * width
        fill = f'<rect class="bar-{level}" width="{_f(filled)}" height="10"/>'
    return Markup(
        f'<svg class="bar" viewBox="0 0 {width} 10" width="{width}" height="10" '
        f'aria-hidden="true"><rect class="bar-bg" width="{width}" height="10"/>{fill}</svg>'
    )


def _segments(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
    out: list[list[tuple[float, float]]] = [[]]
    for t, v in points:
        if v is None or not math.isfinite(v):
            if out[-1]:
                out.append([])
            continue
        out[-1].append((t, v))
    return [s for s in out if s]


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    desc: str,
    y_format: Callable[[float], str],
    hlines: Sequence[HLine] = (),
    y_floor: float | None = None,
    y_ceiling: float | None = None,
    width: int = 640,
    height: int = 200,
    chart_id: str = "chart",
    span: tuple[float, float] | None = None,
) -> Markup:
    """A time series as polylines (gaps where the API had no value) with threshold lines."""
    left, right, top, bottom = 64, 12, 12, 26
    values = [v for _, v in points if v is not None and math.isfinite(v)]
    values += [h.value for h in hlines]
    lo = min(values, default=0.0) if y_floor is None else min(y_floor, *values or [y_floor])
    hi = max(values, default=1.0) if y_ceiling is None else max(y_ceiling, *values or [y_ceiling])
    if hi - lo < 1e-12:
        hi, lo = hi + 0.5 * (abs(hi) or 1), lo - 0.5 * (abs(lo) or 1)
    if span is not None:
        t0, t1 = span
    else:
        t0 = points[0][0] if points else 0.0
        t1 = points[-1][0] if points else 1.0
    width_t = (t1 - t0) or 1.0
    pw, ph = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + (t - t0) / width_t * pw

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * ph

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<rect class="plot" x="{left}" y="{top}" width="{pw}" height="{ph}"/>',
    ]
    for label, v in ((y_format(hi), hi), (y_format(lo), lo)):
        parts.append(
            f'<text class="axis" x="{left - 4}" y="{_f(y(v) + 4)}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
    for h in hlines:
        yy = _f(y(h.value))
        parts.append(
            f'<line class="hline {escape(h.css)}" x1="{left}" x2="{left + pw}" y1="{yy}" y2="{yy}"/>'
            f'<text class="axis {escape(h.css)}" x="{left + pw - 2}" y="{_f(y(h.value) - 3)}" '
            f'text-anchor="end">{escape(h.label)}</text>'
        )
    for seg in _segments(points):
        if len(seg) == 1:
            (t, v) = seg[0]
            parts.append(f'<circle class="series" cx="{_f(x(t))}" cy="{_f(y(v))}" r="2"/>')
            continue
        pts = " ".join(f"{_f(x(t))},{_f(y(v))}" for t, v in seg)
        parts.append(f'<polyline class="series" points="{pts}"/>')
    if not values or not points:
        parts.append(
            f'<text class="axis" x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle">'
            "no data in this range</text>"
        )
    if points or span is not None:
        parts.append(
            f'<text class="axis" x="{left}" y="{height - 8}">{escape(when(t0))}</text>'
            f'<text class="axis" x="{left + pw}" y="{height - 8}" text-anchor="end">'
            f"{escape(when(t1))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class BurnRow:
    label: str
    threshold: float
    long_rate: float | None
    short_rate: float | None
    burning: bool


def burn_chart(rows: Sequence[BurnRow], chart_id: str = "burn") -> Markup:
    """Long and short window burn rates per alert window, each with its threshold drawn."""
    width, left, right, row_h = 640, 130, 92, 44
    top = 8
    height = top + row_h * max(len(rows), 1) + 8
    scale = max(
        [r.threshold * 1.25 for r in rows]
        + [v for r in rows for v in (r.long_rate, r.short_rate) if v is not None]
        + [1.0]
    )
    pw = width - left - right

    def x(v: float) -> float:
        return left + max(0.0, v) / scale * pw

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">Burn rate per alert window</title>',
        f'<desc id="{chart_id}-d">For each alert window, the long and short window burn '
        "rates as bars and the alert threshold as a vertical mark.</desc>",
    ]
    for i, r in enumerate(rows):
        y0 = top + i * row_h
        parts.append(
            f'<text class="axis" x="{left - 6}" y="{y0 + 16}" text-anchor="end">'
            f"{escape(r.label)}</text>"
        )
        for j, (name, v) in enumerate((("long", r.long_rate), ("short", r.short_rate))):
            yy = y0 + 4 + j * 14
            cls = "bar-bad" if r.burning else "bar-rate"
            w = 0.0 if v is None else x(v) - left
            parts.append(
                f'<rect class="bar-bg" x="{left}" y="{yy}" width="{pw}" height="11"/>'
                f'<rect class="{cls}" x="{left}" y="{yy}" width="{_f(w)}" height="11"/>'
                f'<text class="axis" x="{left + pw + 4}" y="{yy + 10}">{name} '
                f"{'—' if v is None else f'{v:.2f}×'}</text>"
            )
        tx = _f(x(r.threshold))
        parts.append(
            f'<line class="threshold" x1="{tx}" x2="{tx}" y1="{y0}" y2="{y0 + 32}"/>'
            f'<text class="axis small" x="{tx}" y="{y0 + 38}" text-anchor="middle">'
            f"{r.threshold:g}×</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    label: str
    css: str


def timeline(
    intervals: Sequence[Interval], start: float, end: float, chart_id: str = "alerts"
) -> Markup:
    """Alert firing intervals as bars on one time axis, one row per alert.

    Each row's label sits above its bar, over the whole width: alert names are long
    (``CheckoutAvailabilityErrorBudgetBurnPage``) and a left margin would cut them."""
    width, left, right, row_h = 640, 8, 12, 34
    labels = sorted({i.label for i in intervals})
    height = 8 + row_h * max(len(labels), 1) + 22
    pw = width - left - right
    span = (end - start) or 1.0

    def x(t: float) -> float:
        return left + (min(max(t, start), end) - start) / span * pw

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">Alert firing intervals</title>',
        f'<desc id="{chart_id}-d">When each alert fired between {escape(when(start))} and '
        f"{escape(when(end))}.</desc>",
    ]
    for n, label in enumerate(labels):
        y0 = 8 + n * row_h
        parts.append(
            f'<text class="axis" x="{left}" y="{y0 + 10}">{escape(label)}</text>'
            f'<rect class="bar-bg" x="{left}" y="{y0 + 15}" width="{pw}" height="12"/>'
        )
        for i in (i for i in intervals if i.label == label):
            w = max(4.0, x(i.end) - x(i.start))  # a 30-minute burn in 30 days: still seen
            # a bar that starts at the very end (still firing, seen once) stays inside
            bar_x = min(x(i.start), left + pw - w)
            parts.append(
                f'<rect class="{escape(i.css)}" x="{_f(bar_x)}" y="{y0 + 15}" '
                f'width="{_f(w)}" height="12"><title>{escape(when(i.start))} – '
                f"{escape(when(i.end))}</title></rect>"
            )
    parts.append(
        f'<text class="axis" x="{left}" y="{height - 6}">{escape(when(start))}</text>'
        f'<text class="axis" x="{left + pw}" y="{height - 6}" text-anchor="end">'
        f"{escape(when(end))}</text></svg>"
    )
    return Markup("".join(parts))
