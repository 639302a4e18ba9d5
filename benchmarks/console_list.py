"""Benchmark: the console's list page (/ui/) with 1,000 SLOs, from cached status.

Starts Prometheus on the test data set (tests/api/dataset.py), builds 1,000 SLOs on its
checkout counters (100 services x 10 objectives, so every status appears), serves the API
and the console in-process and loads /ui/ once to fill the caches (1,000 status queries).
Then it times --requests page loads through the whole stack as a browser would send them
(cookie login, the console calling /api/v1/services in-process, Jinja rendering), with
the status cached as `sloplane serve` caches it (--cache-ttl, default 10 s).

    .venv/bin/python benchmarks/console_list.py [--slos 1000] [--requests 50]

``--across-expiry SECONDS`` measures instead what a visitor sees when the cache period
ends: the page "now" (no ``at``; the API's clock moved to the end of the data, see
ShiftedClock) loaded back to back for SECONDS with `sloplane serve`'s default 10 s period, so several periods end during the run. Each load's time is printed
as a summary, with how many loads were answered while the status board was refreshing
and how many Prometheus queries each period cost. ``--status-max-age 0`` forbids serving
a status from an earlier period, which is how the list routes behaved before the board
(every load at a period's end waited for every SLO's query): the same run, for comparison.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from sloplane.api.app import create_app  # noqa: E402
from sloplane.api.settings import ApiSettings  # noqa: E402
from sloplane.slo.catalog import Catalog  # noqa: E402
from sloplane.slo.model import SLO, EventsSLI  # noqa: E402
from tests.api.dataset import built_tsdb, tsdb_copy  # noqa: E402
from tests.support.processes import prometheus_config, run_prometheus  # noqa: E402

ADMIN = "slp_bench-console-admin"
AT = "2026-11-16T00:00:00Z"
OBJECTIVES = (99.0, 99.5, 99.7, 99.75, 99.8, 99.85, 99.9, 99.95, 95.0, 98.0)


def catalog(n: int) -> Catalog:
    sli = EventsSLI(
        errors='http_requests_total{job="checkout",code=~"5.."}',
        total='http_requests_total{job="checkout"}',
    )
    return Catalog.of(
        [
            SLO(
                service=f"svc{i // 10:03d}",
                name=f"availability-{i % 10}",
                objective=OBJECTIVES[i % 10],
                team=f"team{i % 7}",
                sli=sli,
            )
            for i in range(n)
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=50)
    # Long enough that every timed load is served from the cached status: when a period
    # ends, /api/v1/services re-queries every SLO before answering (see BENCHMARKS.md).
    parser.add_argument("--cache-ttl", type=float, default=600.0)
    parser.add_argument("--across-expiry", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--status-max-age", type=float, default=300.0)
    args = parser.parse_args()
    if args.across_expiry:
        across_expiry(args)
        return
    data = tsdb_copy(built_tsdb())
    work = Path(tempfile.mkdtemp(prefix="console-bench-"))
    try:
        with run_prometheus(prometheus_config(), data_dir=data) as prom:
            settings = ApiSettings(
                prom.url,
                f"sqlite:///{work / 'api.db'}",
                admin_token=ADMIN,
                schedule=None,
                cache_ttl=args.cache_ttl,
                max_concurrency=8,
                # only the first load queries Prometheus: 1,000 queries queue behind 8 slots
                query_timeout=600.0,
            )
            app = create_app(catalog(args.slos), settings)
            with TestClient(app) as client:
                page = client.get("/ui/login")
                csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
                r = client.post(
                    "/ui/login", data={"token": ADMIN, "csrf": csrf}, follow_redirects=False
                )
                assert r.status_code == 303, r.status_code
                t = time.perf_counter()
                first = client.get("/ui/", params={"at": AT})
                warm = time.perf_counter() - t
                assert first.status_code == 200, first.text[-2000:]
                assert first.text.count("<tr data-slo=") == args.slos, first.text[-2000:]
                times, cpu = [], []
                for _ in range(args.requests):
                    t, c = time.perf_counter(), time.process_time()
                    r = client.get("/ui/", params={"at": AT})
                    times.append((time.perf_counter() - t) * 1000)
                    cpu.append((time.process_time() - c) * 1000)
                    assert r.status_code == 200
                times.sort()
                api_times = []
                headers = {"authorization": f"Bearer {ADMIN}"}
                for _ in range(args.requests):
                    t = time.perf_counter()
                    client.get("/api/v1/services", params={"at": AT}, headers=headers)
                    api_times.append((time.perf_counter() - t) * 1000)
                p95 = times[max(0, round(0.95 * len(times)) - 1)]
                print(f"{args.slos} SLOs, page {len(first.content) / 1024:.0f} KiB")
                print(f"first load (fills the caches): {warm * 1000:.0f} ms")
                print(
                    f"cached, {len(times)} loads: median {statistics.median(times):.0f} ms, "
                    f"p95 {p95:.0f} ms, max {times[-1]:.0f} ms"
                )
                print(f"CPU per load (all threads): median {statistics.median(cpu):.0f} ms")
                api_ms = statistics.median(api_times)
                print(f"of which the API's /api/v1/services alone: median {api_ms:.0f} ms")
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


class ShiftedClock:
    """``time`` for the API's status code with "now" moved to the end of the dataset's
    second week (AT), so a status "now" reads two weeks of real history and costs what
    the timed ``?at=`` loads cost (no data "now" would make every query trivial)."""

    def __init__(self, to: float) -> None:
        self.offset = to - time.time()

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic()


def across_expiry(args: argparse.Namespace) -> None:
    """Back-to-back loads of /ui/ ("now") for ``args.across_expiry`` seconds, 10 s periods."""
    from datetime import datetime

    from sloplane.api import board, service

    clock = ShiftedClock(datetime.fromisoformat(AT.replace("Z", "+00:00")).timestamp())
    service.time = clock  # type: ignore[assignment]
    board.time = clock  # type: ignore[assignment]
    ttl = 10.0
    data = tsdb_copy(built_tsdb())
    work = Path(tempfile.mkdtemp(prefix="console-bench-"))
    try:
        with run_prometheus(prometheus_config(), data_dir=data) as prom:
            settings = ApiSettings(
                prom.url,
                f"sqlite:///{work / 'api.db'}",
                admin_token=ADMIN,
                schedule=None,
                cache_ttl=ttl,
                max_concurrency=8,
                query_timeout=600.0,
                status_max_age=args.status_max_age,
            )
            app = create_app(catalog(args.slos), settings)
            with TestClient(app) as client:
                st = app.state.sloplane
                page = client.get("/ui/login")
                csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
                client.post(
                    "/ui/login", data={"token": ADMIN, "csrf": csrf}, follow_redirects=False
                )  # not the redirect: the first load below is the one that fills the board
                t = time.perf_counter()
                first = client.get("/ui/")
                print(f"first load (nothing cached): {(time.perf_counter() - t) * 1000:.0f} ms")
                assert first.text.count("<tr data-slo=") == args.slos
                # start counting at a period boundary, after the first period's extra
                # queries (no recorded data "now": recorded, then the source query)
                client.get("/ui/")  # the source-query hint is set: one query per SLO now
                while st.service.board.refreshing():
                    time.sleep(0.2)
                time.sleep(ttl - clock.time() % ttl)  # start with a period
                queries0 = st.client.stats.backend_queries
                started = clock.time()
                times, cpu, refreshing = [], [], 0
                while clock.time() - started < args.across_expiry:
                    busy = st.service.board.refreshing() > 0
                    t, c = time.perf_counter(), time.process_time()
                    r = client.get("/ui/")
                    times.append((time.perf_counter() - t) * 1000)
                    cpu.append((time.process_time() - c) * 1000)
                    refreshing += busy or st.service.board.refreshing() > 0
                    assert r.status_code == 200 and r.text.count("<tr data-slo=") == args.slos
                # periods touched; each may cost one refresh (one query) per SLO
                periods = int(clock.time() // ttl - started // ttl) + 1
                queries = st.client.stats.backend_queries - queries0
        times_sorted = sorted(times)
        p95 = times_sorted[max(0, round(0.95 * len(times)) - 1)]
        print(
            f"{args.slos} SLOs, {len(times)} loads over {args.across_expiry:g} s "
            f"({periods} periods of {ttl:g} s touched), status max age {args.status_max_age:g} s"
        )
        print(
            f"load: median {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, "
            f"max {times_sorted[-1]:.0f} ms; CPU per load median {statistics.median(cpu):.0f} ms"
        )
        print(f"loads that met a refresh in progress: {refreshing}")
        print(
            f"Prometheus queries: {queries} in {periods} periods "
            f"= {queries / periods / args.slos:.2f} per SLO per period"
        )
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
