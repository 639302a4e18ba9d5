"""Benchmark: SLO status under 100 concurrent clients, with a real Prometheus behind the API.

Starts Prometheus on the test data set (tests/api/dataset.py: two weeks of counters and
recorded series), serves the API with uvicorn (one worker, as `sloplane serve` does) and
drives it with wrk (100 connections). Prometheus' own request counter tells how many
queries the load caused.

    .venv/bin/python benchmarks/api_status.py [--duration 20] [--cache-ttl 10]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.api.dataset import tsdb_copy  # noqa: E402
from tests.support.processes import (  # noqa: E402
    free_port,
    prometheus_config,
    run_prometheus,
    stop_process,
    wait_http_ok,
)

APP = """
from sloplane.api.app import create_app
from sloplane.api.settings import ApiSettings
from tests.api.dataset import CATALOG
app = create_app(CATALOG, ApiSettings({url!r}, {db!r}, open_reads=True, schedule=None, cache_ttl={ttl}))
"""


def prom_queries(url: str) -> int:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = (
        r'prometheus_http_requests_total\{code="\d+",handler="/api/v1/query(?:_range)?"\} (\d+)'
    )
    return sum(int(m) for m in re.findall(pattern, text))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--cache-ttl", type=float, default=10.0)
    parser.add_argument("--path", default="/api/v1/slos/checkout-availability/status")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="sloplane-bench-"))
    data = tsdb_copy()
    with run_prometheus(prometheus_config(), data_dir=data) as prom:
        (tmp / "bench_app.py").write_text(
            APP.format(url=prom.url, db=f"sqlite:///{tmp / 'db.sqlite'}", ttl=args.cache_ttl)
        )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench_app:app", "--port", str(port),
             "--log-level", "warning", "--no-access-log"],
            cwd=tmp, env={"PYTHONPATH": f"{tmp}:{ROOT}", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http_ok(f"{base}/healthz", proc=server)
            url = f"{base}{args.path}"
            httpx.get(url, timeout=30).raise_for_status()  # warm up: imports, first query
            before = prom_queries(prom.url)
            started = time.monotonic()
            out = subprocess.run(
                ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", url],
                capture_output=True, text=True, check=True, timeout=args.duration + 60,
            ).stdout  # fmt: skip
            elapsed = time.monotonic() - started
            queries = prom_queries(prom.url) - before
        finally:
            stop_process(server)
    shutil.rmtree(data.parent, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print(out)
    if args.cache_ttl <= 0:
        print(f"Prometheus queries during the run: {queries} over {elapsed:.1f}s (no cache)")
        return
    periods = elapsed / args.cache_ttl
    print(f"Prometheus queries during the run: {queries} over {elapsed:.1f}s "
          f"= {queries / periods:.2f} per {args.cache_ttl:g}s cache period (1 SLO)")  # fmt: skip


if __name__ == "__main__":
    main()
