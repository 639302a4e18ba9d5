"""How often detectors alert on series with nothing wrong in them, and what they catch.

    .venv/bin/python benchmarks/detectors_false_alarms.py [--series 20] [--days 1]

NAB rewards catching anomalies and charges little for false positives; a pager
charges a lot. This counts *alert episodes* the way ``detect serve`` raises them
(``consecutive: 1``, ``keep_firing_for: 10m``, one point every 30s: a breach
within 20 points of the last one extends the same episode) on synthetic series
without anomalies: Gaussian noise, and noise on a daily cycle. Each series is
scored from its first point, so the first hours, while the detector warms up,
are included. Beside it, the share of level shifts of 4 standard deviations
(one per series, after the first day) alerted on within 10 minutes: a detector
that never alerts has no false alarms either. Seeds are fixed: the same command
prints the same numbers.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from sloplane.detectors.detectors import make_detector

STEP = 30.0
HOLD_POINTS = 20  # keep_firing_for 10m at a 30s step
DEFAULT_THRESHOLD = 0.55  # the ensemble's corpus-wide NAB threshold, the watch default

CASES: list[tuple[str, str, dict[str, object]]] = [
    ("ensemble (default)", "ensemble", {}),
    ("ensemble, spatial: false", "ensemble", {"spatial": False}),
    ("ewma", "ewma", {}),
]
SHIFT_SIGMAS = 4.0
CAUGHT_WITHIN = 20  # points: 10 minutes at 30s


def series(kind: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1_700_000_000 + STEP * np.arange(n)
    x = 10 + rng.normal(0, 0.5, n)
    if kind == "daily cycle":
        x += 3 * np.sin(2 * np.pi * t / 86400)
    return t, x


def episodes(scores: np.ndarray, threshold: float) -> list[int]:
    """Start index of each alert episode."""
    starts: list[int] = []
    last = -(10**9)
    for i in np.flatnonzero(scores >= threshold):
        if i - last > HOLD_POINTS:
            starts.append(int(i))
        last = int(i)
    return starts


def shift_caught(
    kind: str, seed: int, name: str, params: dict[str, object], threshold: float
) -> bool:
    """A series of 1.5 days with a level shift at a seeded point of its second day."""
    n = int(1.5 * 86400 / STEP)
    t, x = series(kind, 10_000 + seed, n)
    at = int(86400 / STEP) + int(np.random.default_rng(seed).integers(0, n // 4))
    x[at:] += SHIFT_SIGMAS * 0.5
    scores = make_detector(name, **params).score_many(t, x)
    return bool((scores[at : at + CAUGHT_WITHIN] >= threshold).any())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=20, help="series per kind (seeds 0..N-1)")
    ap.add_argument("--days", type=float, default=1.0, help="length of each series")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    args = ap.parse_args()
    n = int(args.days * 86400 / STEP)
    print(
        f"{args.series} series of {args.days:g} days per kind, one point per {STEP:g}s, "
        f"threshold {args.threshold:g}"
    )
    print(
        "| series | detector | alert episodes per day | of them in the first 3h "
        f"| {SHIFT_SIGMAS:g}-sigma shifts caught in 10 min |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    for kind in ("gaussian noise", "daily cycle"):
        for label, name, params in CASES:
            total = early = caught = 0
            for seed in range(args.series):
                print(f"\r{kind} / {label}: seed {seed + 1}/{args.series}", end="", file=sys.stderr)
                t, x = series(kind, seed, n)
                scores = make_detector(name, **params).score_many(t, x)
                starts = episodes(scores, args.threshold)
                total += len(starts)
                early += sum(1 for s in starts if s * STEP < 3 * 3600)
                caught += shift_caught(kind, seed, name, params, args.threshold)
            print(file=sys.stderr)
            per_day = total / (args.series * args.days)
            print(
                f"| {kind} | {label} | {per_day:.2f} | {early / max(total, 1):.0%} "
                f"| {caught}/{args.series} |"
            )


if __name__ == "__main__":
    main()
