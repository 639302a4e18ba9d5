"""Report charts as inline SVG (matplotlib, Agg): no files, no JavaScript, prints crisply.

SVG output is made deterministic (fixed hash salt, no date metadata) so the same
report renders to the same bytes.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import dates as mdates
from matplotlib.ticker import PercentFormatter

from sloplane.reports.model import SLOWeek

OK = "#2e7d32"
BAD = "#c62828"
INK = "#37474f"


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "sloplane", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def sli_chart(slo: SLOWeek) -> str:
    """Daily SLI as bars (green met, red missed) against the objective line."""
    fig, ax = plt.subplots(figsize=(5.2, 2.3), dpi=100)
    labels = [d.date[5:] for d in slo.days]
    values = [d.sli if d.sli is not None else float("nan") for d in slo.days]
    colors = [OK if d.met else BAD for d in slo.days]
    known = [v for v in values if v == v]
    low = min([*known, slo.objective]) if known else slo.objective
    floor = max(0.0, 1 - (1 - low) * 1.6)
    ax.bar(labels, [v - floor if v == v else 0 for v in values], bottom=floor, color=colors)
    ax.axhline(slo.objective, color=INK, linestyle="--", linewidth=1)
    ax.set_ylim(floor, 1.0 + (1 - floor) * 0.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
    ax.set_title("Daily SLI vs objective (dashed)", fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig)


def burn_down_chart(slo: SLOWeek) -> str:
    """Error budget remaining over the week (the SLO window's budget)."""
    fig, ax = plt.subplots(figsize=(5.2, 2.3), dpi=100)
    pts = [
        (p.t, p.budget_remaining_ratio)
        for p in slo.burn_down
        if p.budget_remaining_ratio is not None
    ]
    if pts:
        xs = [float(mdates.date2num(datetime.fromtimestamp(t, UTC))) for t, _ in pts]
        ys = [v for _, v in pts]
        ax.plot(xs, ys, color=INK, linewidth=1.5)
        ax.fill_between(xs, ys, 0, where=[y >= 0 for y in ys], color=OK, alpha=0.15)
        ax.fill_between(xs, ys, 0, where=[y < 0 for y in ys], color=BAD, alpha=0.25)
        ax.set_ylim(min(0.0, *ys) - 0.05, 1.05)
    ax.axhline(0, color=BAD, linewidth=0.8)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a"))
    ax.set_title(f"Error budget remaining ({slo.window} window)", fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _svg(fig)
