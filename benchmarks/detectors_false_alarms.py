"""How often detectors alert on series with nothing wrong in them, and what they catch.

    .venv/bin/python benchmarks/detectors_false_alarms.py [--series 10] [--days 14]
        [--cases default,ensemble]

A pager charges for every false alert. This counts *alert episodes* the way
``detect serve`` raises them (``consecutive: 1``, ``keep_firing_for: 10m``, one
point a minute: a breach within 10 points of the last one extends the same
episode) on synthetic series with nothing wrong: Gaussian noise, daily and
weekly cycles, Poisson counts, heavy-tailed (log-normal) latency, and flat
lines with rare healthy steps. Each series is scored from its first point, so
warm-up is included. Beside it, the share of level shifts of 4 standard
deviations of the noise (one per series, on its second day, lasting) alerted
on within 10 minutes, and the median delay: a detector that never alerts has
no false alarms either. Seeds are fixed: the same command prints the same
numbers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

from sloplane.detectors.base import Detector
from sloplane.detectors.detectors import make_detector
from sloplane.detectors.watch import make_watch

STEP = 60.0
HOLD_POINTS = 10  # keep_firing_for 10m at a 1m step
CAUGHT_WITHIN = 10  # points: 10 minutes
SHIFT_SIGMAS = 4.0
WEEK_POINTS = int(7 * 86400 / STEP)

Case = tuple[str, Callable[[], Detector], float]
CASES: dict[str, Case] = {
    "default": (
        "watch default: ensemble, false_alarms 1/week",
        lambda: make_watch("ensemble"),
        0.5,
    ),
    "default-up": (
        "watch: ensemble, 1/week, direction up",
        lambda: make_watch("ensemble", direction="up"),
        0.5,
    ),
    "ewma-budget": ("watch: ewma, 1/week", lambda: make_watch("ewma"), 0.5),
    "default-floor": (
        "watch: ensemble, 1/week, min_change 1.5",
        lambda: make_watch("ensemble", min_change=1.5),
        0.5,
    ),
    "ensemble": ("ensemble at 0.55 (raw, before)", lambda: make_detector("ensemble"), 0.55),
    "ewma": ("ewma at 0.55 (raw)", lambda: make_detector("ewma"), 0.55),
}
KINDS = ("gaussian noise", "daily cycle", "weekly cycle", "poisson counts", "latency", "flat+steps")


def series(kind: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Time, values and the noise's standard deviation (the unit of a shift)."""
    rng = np.random.default_rng(seed)
    t = 1_700_000_000 + STEP * np.arange(n)
    if kind == "poisson counts":
        return t, rng.poisson(4.0, n).astype(float), 2.0
    if kind == "latency":  # p99-like: log-normal around 200 ms
        sigma = 0.25
        x = 0.2 * np.exp(rng.normal(0, sigma, n))
        return t, x, float(np.std(0.2 * np.exp(rng.normal(0, sigma, 100_000))))
    if kind == "flat+steps":  # a replica count: steps of 1 about twice a week
        steps = rng.random(n) < 2.0 / WEEK_POINTS
        return t, 3.0 + np.cumsum(np.where(steps, rng.choice([-1.0, 1.0], n), 0.0)), 1.0
    x = 10 + rng.normal(0, 0.5, n)
    if kind == "daily cycle":
        x += 3 * np.sin(2 * np.pi * t / 86400)
    if kind == "weekly cycle":
        x += 2 * np.sin(2 * np.pi * t / 86400) + 3 * np.sin(2 * np.pi * t / 604800)
    return t, x, 0.5


def episodes(scores: np.ndarray, threshold: float) -> list[int]:
    """Start index of each alert episode."""
    starts: list[int] = []
    last = -(10**9)
    for i in np.flatnonzero(scores >= threshold):
        if i - last > HOLD_POINTS:
            starts.append(int(i))
        last = int(i)
    return starts


def shift_delay(kind: str, seed: int, case: Case) -> int | None:
    """Points from a lasting 4-sigma shift (second day) to the first alert, if within 10."""
    _, build, threshold = case
    n = int(2 * 86400 / STEP)
    t, x, sd = series(kind, 10_000 + seed, n)
    at = int(86400 / STEP) + int(np.random.default_rng(seed).integers(0, n // 4))
    x[at:] += SHIFT_SIGMAS * sd
    hits = np.flatnonzero(build().score_many(t, x)[at : at + CAUGHT_WITHIN] >= threshold)
    return int(hits[0]) if len(hits) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=10, help="series per kind (seeds 0..N-1)")
    ap.add_argument("--days", type=float, default=14.0, help="length of each healthy series")
    ap.add_argument(
        "--cases",
        default="default,default-up,ewma-budget,ensemble,ewma",
        help=f"of {', '.join(CASES)}",
    )
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args()
    n = int(args.days * 86400 / STEP)
    print(f"{args.series} series of {args.days:g} days per kind, one point per {STEP:g}s")
    print(
        "| series | detector | false episodes per series-week | "
        f"{SHIFT_SIGMAS:g}-sigma shifts caught in 10 min | median delay (min) |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    for kind in args.kinds.split(","):
        for key in args.cases.split(","):
            case = CASES[key]
            label, build, threshold = case
            total = 0
            delays: list[int] = []
            for seed in range(args.series):
                print(f"\r{kind} / {key}: seed {seed + 1}/{args.series}", end="", file=sys.stderr)
                t, x, _ = series(kind, seed, n)
                total += len(episodes(build().score_many(t, x), threshold))
                d = shift_delay(kind, seed, case)
                if d is not None:
                    delays.append(d)
            print(f"\r{' ' * 60}\r", end="", file=sys.stderr)
            per_week = total / (args.series * args.days / 7)
            med = f"{np.median(delays) + 1:.0f}" if delays else "-"
            print(
                f"| {kind} | {label} | {per_week:.2f} | {len(delays)}/{args.series} | {med} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
