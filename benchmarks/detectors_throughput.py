"""Points scored per CPU-second by every detector, this tree beside a previous commit.

    .venv/bin/python benchmarks/detectors_throughput.py [--points 20000] [--baseline REV]
        [--detectors ensemble,ewma] [--repeat 1]

Each detector scores one synthetic series (noise on a daily cycle, a point a
minute, with a level shift and a few spikes) in batch (``score_many``, what
back-tests use) and point by point (``update``, what ``detect serve`` does).
Time is the CPU time of a fresh subprocess (``time.process_time``), so other
work on the machine slows the wall clock but not the figure much. The
baseline is the same benchmark run against ``git archive REV`` of this
repository, so "before" and "after" come from one run on one machine state.
It also checks that batch and point-by-point scores are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DETECTORS = (
    "ensemble",
    "seasonal",
    "ewma",
    "holt",
    "cusum",
    "iforest",
    "context",
    "watch:ensemble",
    "watch:ewma",
)

_CHILD = r"""
import json, sys, time
import numpy as np
from sloplane.detectors.detectors import make_detector

name, n, params = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
rng = np.random.default_rng(7)
t = 1_700_000_000 + 60.0 * np.arange(n)
x = 100 + 10 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 2, n)
x[n // 2 :] += 8
x[rng.integers(0, n, 5)] += 40
def build():
    if name.startswith("watch:"):  # a detector under watch rules (budget 1/week, the default)
        from sloplane.detectors.watch import make_watch
        return make_watch(name.removeprefix("watch:"), params)
    return make_detector(name, **params)
det = build()
t0 = time.process_time()
batch = det.score_many(t, x)
batch_cpu = time.process_time() - t0
det = build()
upd = det.update
tl, xl = t.tolist(), x.tolist()
t0 = time.process_time()
stream = np.array([upd(a, b) for a, b in zip(tl, xl)])
stream_cpu = time.process_time() - t0
diff = float(np.max(np.abs(batch - stream))) if n else 0.0
print(json.dumps({"batch": n / batch_cpu, "stream": n / stream_cpu, "diff": diff,
                  "bitwise": bool(np.array_equal(batch, stream))}))
"""


def measure(src: Path, name: str, n: int, params: dict[str, object]) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, name, str(n), json.dumps(params)],
        env=env,
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        return {"error": 1.0}
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def extract(rev: str, into: Path) -> Path:
    """The package as it was at ``rev``, unpacked under ``into``."""
    archive = into / "base.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), rev, "sloplane"],
        cwd=ROOT,
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def _cell(r: dict[str, float] | None, key: str) -> str:
    if r is None:
        return "n/a"
    if "error" in r:
        return "n/a"
    return f"{r[key]:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=20_000)
    ap.add_argument("--baseline", default="", help="git revision to compare with (none: skip)")
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--params", default="{}", help="JSON parameters for every detector")
    args = ap.parse_args()
    params = json.loads(args.params)
    names = args.detectors.split(",")
    print(f"{args.points:,} points per detector, points per CPU-second")
    head = "| detector | batch | point by point | batch == update |"
    rule = "| --- | ---: | ---: | --- |"
    if args.baseline:
        head = (
            f"| detector | batch ({args.baseline}) | point by point ({args.baseline}) " + head[11:]
        )
        rule = "| --- | ---: | ---: " + rule[6:]
    print(head)
    print(rule)
    with tempfile.TemporaryDirectory() as tmp:
        base = extract(args.baseline, Path(tmp)) if args.baseline else None
        for name in names:
            print(f"\r{name}...", end="", file=sys.stderr)
            new = measure(ROOT, name, args.points, params)
            cells = [name]
            if base is not None:
                old = measure(base, name, args.points, params)
                cells += [_cell(old, "batch"), _cell(old, "stream")]
            cells += [_cell(new, "batch"), _cell(new, "stream")]
            if "error" in new:
                cells.append("error")
            else:
                same = "bitwise" if new["bitwise"] else f"max diff {new['diff']:.1e}"
                cells.append(same)
            print(f"\r{' ' * 20}\r", end="", file=sys.stderr)
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
