"""Benchmark: valid-token throughput while random tokens are sprayed at the API (issue 12).

Serves the API with uvicorn (one worker, SQLite, no Prometheus needed: the route is an
SLO's definition) and drives it from two load processes for ``--duration`` seconds per
phase: phase 1 valid tokens only, phase 2 the same plus a sprayer sending random tokens
as fast as it can. Prints valid requests/s, p50 and p99 per phase, and the sprayer's
rate, and the server's CPU per request (the figure the machine's load does not blur).
``--code DIR`` serves another checkout (e.g. an export of main) for a before/after.

    .venv/bin/python benchmarks/api_auth.py [--duration 8] [--code DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "slp_bench-admin-token"
PATH = "/api/v1/slos/checkout-availability"

APP = """
from sloplane.api.app import create_app
from sloplane.api.settings import ApiSettings
from sloplane.slo.catalog import Catalog
from sloplane.slo.model import SLO
slo = SLO(service="checkout", name="availability", objective=99, sli={{"kind": "events",
    "errors": 'http_requests_total{{code=~"5.."}}', "total": "http_requests_total"}})
app = create_app(Catalog.of([slo]), ApiSettings("http://127.0.0.1:9", {db!r},
    admin_token={token!r}, schedule=None))
"""


def _load(base: str, valid: bool, seconds: float, workers: int, out: mp.Queue) -> None:
    async def worker(client: httpx.AsyncClient, stop: float, lat: list[float]) -> int:
        codes = 0
        while time.monotonic() < stop:
            token = TOKEN if valid else "slp_" + secrets.token_urlsafe(32)
            started = time.perf_counter()
            r = await client.get(PATH, headers={"Authorization": f"Bearer {token}"})
            lat.append(time.perf_counter() - started)
            codes += r.status_code != (200 if valid else 401)
        return codes

    async def run() -> tuple[str, int, list[float], int]:
        lat: list[float] = []
        limits = httpx.Limits(max_connections=workers)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            stop = time.monotonic() + seconds
            wrong = await asyncio.gather(*(worker(client, stop, lat) for _ in range(workers)))
        return ("valid" if valid else "random"), len(lat), lat, sum(wrong)

    out.put(asyncio.run(run()))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (from /proc): what the server spent, whatever the load
    generators on the same cores got."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _phase(base: str, seconds: float, spray: bool, pid: int) -> str:
    cpu_before = _cpu_seconds(pid)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_load, args=(base, True, seconds, 20, out))]
    if spray:
        procs.append(ctx.Process(target=_load, args=(base, False, seconds, 20, out)))
    for p in procs:
        p.start()
    results = sorted(out.get(timeout=seconds + 120) for _ in procs)[::-1]  # valid first
    for p in procs:
        p.join()
    cpu = _cpu_seconds(pid) - cpu_before
    total = sum(r[1] for r in results)
    lines = [f"  server CPU {cpu:.2f} s for {total} requests = {cpu / total * 1e6:.0f} us each"]
    for name, count, lat, wrong in results:
        q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
        lines.append(
            f"  {name:6} {count / seconds:8.0f} req/s  p50 {q[49] * 1000:6.1f} ms  "
            f"p99 {q[98] * 1000:6.1f} ms  unexpected status {wrong}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--code", type=Path, default=ROOT)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sloplane-bench-auth-"))
    (tmp / "bench_app.py").write_text(APP.format(db=f"sqlite:///{tmp / 'db.sqlite'}", token=TOKEN))
    sys.path.insert(0, str(ROOT))
    from tests.support.processes import free_port, stop_process, wait_http_ok

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_app:app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=tmp, env={"PYTHONPATH": f"{tmp}:{args.code}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http_ok(f"{base}/healthz", proc=server)
        print(f"code: {args.code}")
        print("valid tokens only:")
        print(_phase(base, args.duration, False, server.pid))
        print("valid tokens while random tokens are sprayed:")
        print(_phase(base, args.duration, True, server.pid))
    finally:
        stop_process(server)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
