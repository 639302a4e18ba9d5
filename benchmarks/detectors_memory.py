"""Resident memory per warm series: the detectors' state alone, without Prometheus.

    .venv/bin/python benchmarks/detectors_memory.py [--series 500] [--points 1300]
        [--detector ensemble] [--bare]

Builds ``--series`` detectors (the default watch, the false-alarm budget over
``--detector``, unless ``--bare``), each primed with ``--points`` points of its
own noisy series at a 30 s step (1,300 points warm the watch rules), in two
equal batches, and reports the process's resident memory (VmRSS) before and
after each batch. The second batch's growth per series is the slope that
decides how many warm series fit in a given memory (the first batch also pays
for imports and caches). ``detect serve`` adds its own per-series state and
the warm start's transient reads on top (BENCHMARKS.md, "detect serve at
scale").
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sloplane.detectors.base import Detector
from sloplane.detectors.detectors import make_detector
from sloplane.detectors.watch import make_watch


def rss_kib() -> int:
    """The process's resident memory now (VmRSS), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--points", type=int, default=1300)
    ap.add_argument("--detector", default="ensemble")
    ap.add_argument("--bare", action="store_true", help="the bare detector, no watch rules")
    args = ap.parse_args()
    rng = np.random.default_rng(16)
    t = 1_700_000_000 + 30.0 * np.arange(args.points)
    kept: list[Detector] = []
    rss = [rss_kib()]
    half = args.series // 2
    for _ in range(2):
        for _ in range(half):
            level = rng.uniform(1, 100)
            x = level * (1 + 0.02 * rng.standard_normal(args.points))
            det = make_detector(args.detector) if args.bare else make_watch(args.detector)
            det.score_many(t, x)
            kept.append(det)
        gc.collect()
        rss.append(rss_kib())
    warm = sum(1 for d in kept if not d.warming_up)
    print(
        json.dumps(
            {
                "series": len(kept),
                "warm": warm,
                "points": args.points,
                "detector": args.detector,
                "watch": not args.bare,
                "rss_mib": [round(r / 1024, 1) for r in rss],
                "kib_per_series_first_batch": round((rss[1] - rss[0]) / half, 1),
                "kib_per_series_second_batch": round((rss[2] - rss[1]) / half, 1),
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
