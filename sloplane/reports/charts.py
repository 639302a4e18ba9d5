"""Report charts as inline SVG (matplotlib, Agg): no files, no JavaScript, prints crisply.

SVG output is made deterministic (fixed hash salt, no date metadata) so the same
report renders to the same bytes. Missing data is drawn as grey and labelled "no
data": an empty day must never look like a failed (red) or a healthy (green) one.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from sloplane.reports.model import SLOWeek

OK = "#2e7d32"
BAD = "#c62828"
INK = "#37474f"
NO_DATA = "#b0bec5"
NO_DATA_TEXT = "#607d8b"


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "sloplane", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _tidy(ax: Axes, title: str) -> None:
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def day_label(iso_date: str) -> str:
    """``Mon 09`` (weekday and day of month) for a report day."""
    return date.fromisoformat(iso_date).strftime("%a %d")


def sli_chart(slo: SLOWeek) -> str:
    """Daily SLI as bars (green met, red missed, grey "no data") against the objective line."""
    fig, ax = plt.subplots(figsize=(5.2, 2.3), dpi=100)
    labels = [day_label(d.date) for d in slo.days]
    known = [d.sli for d in slo.days if d.sli is not None]
    low = min([*known, slo.objective])
    floor = max(0.0, 1 - (1 - low) * 1.6)
    top = 1.0 + (1 - floor) * 0.05
    for x, (label, d) in enumerate(zip(labels, slo.days, strict=True)):
        if d.sli is None:
            ax.bar(label, top - floor, bottom=floor, color=NO_DATA, alpha=0.35)
            ax.text(
                x, floor + (top - floor) / 2, "no data", rotation=90, ha="center",
                va="center", fontsize=7, color=NO_DATA_TEXT,
            )  # fmt: skip
        else:
            ax.bar(label, d.sli - floor, bottom=floor, color=OK if d.met else BAD)
    ax.axhline(slo.objective, color=INK, linestyle="--", linewidth=1)
    ax.set_ylim(floor, top)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
    _tidy(ax, "Daily SLI vs objective (dashed)")
    return _svg(fig)


def burn_down_chart(slo: SLOWeek, start: float, end: float, tz: str = "UTC") -> str:
    """Error budget remaining over the week (the SLO window's budget), one tick per day."""
    zone = ZoneInfo(tz)
    fig, ax = plt.subplots(figsize=(5.2, 2.3), dpi=100)
    xs = [_num(p.t) for p in slo.burn_down]
    ys = [math.nan if p.budget_remaining_ratio is None else p.budget_remaining_ratio
          for p in slo.burn_down]  # fmt: skip
    known = [y for y in ys if not math.isnan(y)]
    if known:
        ax.plot(xs, ys, color=INK, linewidth=1.5)
        ax.fill_between(xs, ys, 0, where=[y >= 0 for y in ys], color=OK, alpha=0.15)
        ax.fill_between(xs, ys, 0, where=[y < 0 for y in ys], color=BAD, alpha=0.25)
        ax.axhline(0, color=BAD, linewidth=0.8)
        ax.set_ylim(min(0.0, *known) - 0.05, 1.05)
    else:
        ax.set_ylim(0, 1.05)
        ax.axvspan(_num(start), _num(end), color=NO_DATA, alpha=0.25, linewidth=0)
        ax.text(
            0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
            fontsize=11, color=NO_DATA_TEXT,
        )  # fmt: skip
    ax.set_xlim(_num(start), _num(end))
    ax.xaxis.set_major_locator(mdates.DayLocator(tz=zone))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d", tz=zone))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _tidy(ax, f"Error budget remaining ({slo.window} window)")
    return _svg(fig)


def _num(t: float) -> float:
    return float(mdates.date2num(datetime.fromtimestamp(t, UTC)))
