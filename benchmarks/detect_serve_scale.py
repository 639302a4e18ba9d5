"""`detect serve` at scale: one process, many series, a real Prometheus.

    .venv/bin/python benchmarks/detect_serve_scale.py [--series 10000] [--step 30]
        [--history 150] [--polls 10] [--detector ensemble]

Writes ``--series`` gauges of ``--history`` points at ``--step`` into TSDB blocks
with ``promtool tsdb create-blocks-from openmetrics``, starts Prometheus on them
(GOMAXPROCS=1) and runs the service's poller in this process against it, with a
clock that walks the data: the first poll (the warm start: every series new, its
history read and scored), then ``--polls`` polls of one new point per series. It
reports each poll's wall and CPU seconds against the step, points per
CPU-second and the process's peak RSS. The watch is the default one (the
false-alarm budget over ``--detector``) unless ``--threshold`` asks for the bare
detector. Run it pinned to one core (``taskset -c 0``) to measure "one core".
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sloplane.detect.config import parse_config  # noqa: E402
from sloplane.detect.service import Service  # noqa: E402
from tests.support.processes import (  # noqa: E402
    backfill_openmetrics,
    prometheus_config,
    run_prometheus,
)


def openmetrics(series: int, points: int, step: int, end: int) -> str:
    """Noise around a per-series level; a few series shift near the end."""
    rng = random.Random(16)
    levels = [rng.uniform(1, 100) for _ in range(series)]
    lines = ["# TYPE scale_metric gauge"]
    for i in range(points):
        t = end - (points - 1 - i) * step
        for s, level in enumerate(levels):
            shift = 5.0 if s % 1000 == 0 and i > points - 5 else 0.0
            v = level * (1 + 0.02 * rng.gauss(0, 1)) + shift * level * 0.1
            lines.append(f'scale_metric{{pod="p{s:05d}"}} {v:.4f} {t}')
    return "\n".join(lines) + "\n"


def rss_mib() -> int:
    """The process's resident memory now (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def run(args: argparse.Namespace) -> dict[str, Any]:
    end = int(time.time()) // args.step * args.step - args.step
    live_from = end - args.polls * args.step
    work = Path(tempfile.mkdtemp(prefix="sloplane-scale-"))
    t0 = time.monotonic()
    # in a child process, so the text's memory is not in this process's peak RSS
    child = [sys.executable, __file__, "--backfill", str(work / "data"), "--end", str(end)]
    flags = ["--series", str(args.series), "--history", str(args.history), "--step", str(args.step)]
    subprocess.run([*child, *flags], check=True)
    backfill_s = time.monotonic() - t0
    watch: dict[str, Any] = {
        "name": "scale",
        "query": "scale_metric",
        "step": f"{args.step}s",
        "detector": args.detector,
        "lookback": f"{(args.history - args.polls - 1) * args.step}s",
    }
    if args.threshold is not None:
        watch["threshold"] = args.threshold
    clock = {"t": float(live_from)}
    with run_prometheus(prometheus_config(), data_dir=work / "data") as prom:
        cfg = parse_config(
            {
                "prometheus": {"url": prom.url, "timeout": "120s"},
                "alertmanager": {"url": None},
                "database": f"sqlite:///{work / 'detect.db'}",
                "guards": {"max_staleness": "1d"},
                "watches": [watch],
            }
        )
        svc = Service(cfg, clock=lambda: clock["t"])
        polls = []
        try:
            for i in range(args.polls + 1):
                clock["t"] = float(live_from + i * args.step)
                points_before = svc.counters.get(("points", "scale"), 0)
                wall, cpu = time.perf_counter(), time.process_time()
                svc.tick_watch("scale")
                polls.append(
                    {
                        "poll": i,
                        "wall_s": round(time.perf_counter() - wall, 3),
                        "cpu_s": round(time.process_time() - cpu, 3),
                        "points": svc.counters.get(("points", "scale"), 0) - points_before,
                    }
                )
                print(json.dumps(polls[-1]), file=sys.stderr)
            ws = svc.watches["scale"]
            series, warming = len(ws.series), ws.warming_up()
            one = next(iter(ws.series.values())).detector
            detector_kib = round(len(pickle.dumps(one)) / 1024, 1)
            firing = sum(1 for st in ws.series.values() if st.firing_since is not None)
            scrape = time.perf_counter()
            from prometheus_client import generate_latest

            body = generate_latest(svc.registry)
            scrape_s = time.perf_counter() - scrape
        finally:
            svc.stop()
    steady = polls[1:]
    return {
        "series": args.series,
        "step_s": args.step,
        "history_points": args.history,
        "detector": args.detector,
        "threshold": args.threshold,
        "backfill_s": round(backfill_s, 1),
        "first_poll": polls[0],
        "steady_wall_s_max": max(p["wall_s"] for p in steady) if steady else None,
        "steady_cpu_s_max": max(p["cpu_s"] for p in steady) if steady else None,
        "steady_points_per_cpu_s": round(
            sum(p["points"] for p in steady) / max(sum(p["cpu_s"] for p in steady), 1e-9)
        )
        if steady
        else None,
        "series_scored": series,
        "series_warming": warming,
        "series_firing": firing,
        "metrics_scrape_s": round(scrape_s, 3),
        "metrics_bytes": len(body),
        "rss_after_mib": rss_mib(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "detector_pickle_kib": detector_kib,
        "python": sys.version.split()[0],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--step", type=int, default=30)
    p.add_argument("--history", type=int, default=150, help="points per series in Prometheus")
    p.add_argument("--polls", type=int, default=10, help="steady polls after the first")
    p.add_argument("--detector", default="ensemble")
    p.add_argument("--threshold", type=float, default=None, help="bare detector at this score")
    p.add_argument("--backfill", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--end", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.backfill is not None:
        text = openmetrics(args.series, args.history, args.step, args.end)
        backfill_openmetrics(text, args.backfill)
        return
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
