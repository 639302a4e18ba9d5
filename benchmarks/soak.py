"""Soak: the exporter, the SLO API and the detector under mixed, partly hostile load.

Everything runs on loopback, through the same CLIs an operator uses:

- ``sloplane exporter`` with PostgreSQL, Redis and RabbitMQ as configured targets, scraped
  every second, while ``--hostile`` clients keep probing a server that answers a byte at
  a time (``tests/support/slow_http.py``);
- ``sloplane serve`` (the SLO API) with valid-token status and history requests (a new
  ``start`` every time) and random invalid tokens;
- ``sloplane detect serve`` watching a metric that flaps every ``--flap`` seconds, posting
  to an AlertManager that takes 1.5 s per POST (``tests/support/slow_alertmanager.py``)
  and running a command hook behind a 30 s cooldown and 3 actions an hour;
- a real Prometheus scraping the flapping metric and the exporter.

It reports each service's RSS over time (with the least-squares slope over the last five
minutes; ``--rss-csv`` writes every 10 s sample), p99 latency and errors per kind of request,
false ``up 0`` (a configured target reported down while its server answered), alerts
POSTed against alerts the detector queued, hook runs against what the guards allow, and
audit rows against hook runs.

    .venv/bin/python benchmarks/soak.py                 # 10 minutes
    .venv/bin/python benchmarks/soak.py --out soak.md --rss-csv rss.csv
    .venv/bin/python benchmarks/soak.py --minutes 3 --out soak.md
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import (  # noqa: E402
    free_port,
    prometheus_config,
    run_prometheus,
    stop_process,
    wait_http_ok,
)
from tests.support.slow_alertmanager import SlowAlertmanager  # noqa: E402
from tests.support.slow_http import SlowHTTPServer  # noqa: E402

PG, REDIS, RABBIT = ("127.0.0.1", 5432), ("127.0.0.1", 6379), ("127.0.0.1", 5672)
ADMIN_TOKEN = "soak-admin-" + os.urandom(8).hex()
COOLDOWN, PER_HOUR = 30.0, 3
SLOPE_WINDOW = 300.0  # seconds: "flat" is judged on the last five minutes of RSS samples


# -- load accounting ---------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[str] = field(default_factory=Counter)
    false_down: Counter[str] = field(default_factory=Counter)
    up_checks: int = 0
    rss: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, status: str, ok: bool) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[kind][status] += 1
            if not ok:
                self.errors[kind] += 1


def timed(
    stats: Stats, kind: str, call: Callable[[], httpx.Response], ok: Callable[[int], bool]
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        resp = call()
    except httpx.HTTPError as exc:
        stats.record(kind, time.perf_counter() - started, type(exc).__name__, False)
        return None
    stats.record(kind, time.perf_counter() - started, str(resp.status_code), ok(resp.status_code))
    return resp


def loop(stop: threading.Event, pause: float, body: Callable[[], None]) -> None:
    while not stop.is_set():
        body()
        stop.wait(pause)


# -- the flapping metric -----------------------------------------------------------------------


def flap_server(period: float) -> ThreadingHTTPServer:
    """``soak_flap``: 10 and 100 in turn every ``period`` seconds, with a little noise."""

    class Flap(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            high = int(time.time() // period) % 2
            value = (100.0 if high else 10.0) + random.uniform(-1, 1)
            body = f"# TYPE soak_flap gauge\nsoak_flap {value:.3f}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flap)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- the services ------------------------------------------------------------------------------


@contextmanager
def service(args: list[str], ready: str, env: dict[str, str], log: Path) -> Iterator[int]:
    """Run ``sloplane ARGS`` until the block ends; yield its pid once ``ready`` answers."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sloplane.cli", *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http_ok(ready, timeout=120, proc=proc)
        yield proc.pid
    finally:
        stop_process(proc, timeout=30)


def _addr(address: tuple[str, int]) -> str:
    return f"{address[0]}:{address[1]}"


def exporter_config() -> dict:
    return {
        "probe": {"enabled": True, "max_concurrent": 16},
        "modules": {
            "mq": {"kind": "rabbitmq", "management": "off"},
            "web": {"kind": "http", "timeout_seconds": 3, "allowed_targets": ["127.0.0.1"]},
        },
        "targets": [
            {"name": "db", "module": "postgres", "address": _addr(PG)},
            {"name": "cache", "module": "redis", "address": _addr(REDIS)},
            {"name": "broker", "module": "mq", "address": _addr(RABBIT)},
        ],
    }


def detect_config(prom: str, am: str, db: Path, port: int, hook_log: Path) -> dict:
    return {
        "prometheus": {"url": prom},
        "alertmanager": {"url": am, "generator_url": prom},
        "database": f"sqlite:///{db}",
        "listen": f"127.0.0.1:{port}",
        "api": {"token_env": "SLOPLANE_DETECT_TOKEN"},
        "guards": {
            "max_staleness": "2m",
            "cooldown": f"{COOLDOWN:g}s",
            "max_actions_per_hour": PER_HOUR,
            "dry_run": False,
        },
        "watches": [
            {
                "name": "soak_flap",
                "query": "soak_flap",
                "step": "1s",
                "lookback": "1m",
                "detector": "cusum",
                "threshold": 0.9,
                "consecutive": 1,
                "keep_firing_for": "5s",
                "labels": {"severity": "ticket", "team": "soak"},
                "actions": ["restart"],
            }
        ],
        "actions": [
            {
                "name": "restart",
                "target": "soak-service",
                "hook": {
                    "kind": "command",
                    "argv": ["sh", "-c", f'echo "$SLOPLANE_ACTION" >> {hook_log}'],
                    "timeout": "10s",
                },
            }
        ],
    }


# -- measurements ------------------------------------------------------------------------------


def rss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) * 1024 if match else 0


def answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def sample(text: str, metric: str, **labels: str) -> float | None:
    """The value of one series in an exposition, labels in any order; None when absent."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        head, _, number = line.rpartition(" ")
        name, _, rest = head.partition("{")
        if name != metric:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(number)
    return None


def rss_slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (bytes) over time (seconds), in bytes a second.

    One number for "is memory still growing": the first and last samples alone move
    with every allocator hiccup, the fit over many samples does not.
    """
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var if var else 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


# -- the run -----------------------------------------------------------------------------------


def run(minutes: float, hostile: int, flap: float, work: Path, rss_csv: Path | None) -> str:
    stats = Stats()
    stop = threading.Event()
    with ExitStack() as stack:
        slow = SlowHTTPServer("body", interval=0.2).start()
        stack.callback(slow.stop)
        am = SlowAlertmanager(delay=1.5).start()
        stack.callback(am.stop)
        flapper = flap_server(flap)
        stack.callback(flapper.shutdown)

        (work / "exporters.yaml").write_text(yaml.safe_dump(exporter_config()))
        exp_port = free_port()
        exporter = f"http://127.0.0.1:{exp_port}"
        exporter_pid = stack.enter_context(
            service(
                ["exporter", "--config", str(work / "exporters.yaml"),
                 "--listen", f"127.0.0.1:{exp_port}", "--log-level", "error"],
                f"{exporter}/-/healthy", {}, work / "exporter.log",
            )
        )  # fmt: skip
        prom = stack.enter_context(
            run_prometheus(
                prometheus_config(
                    [f"127.0.0.1:{flapper.server_address[1]}", f"127.0.0.1:{exp_port}"],
                    scrape_interval="1s",
                )
            )
        )
        api_port = free_port()
        api = f"http://127.0.0.1:{api_port}"
        api_pid = stack.enter_context(
            service(
                ["serve", "--slos", str(ROOT / "examples" / "slos"), "--prometheus-url", prom.url,
                 "--database-url", f"sqlite:///{work / 'api.db'}", "--port", str(api_port),
                 "--report-schedule", "off"],
                f"{api}/healthz", {"SLOPLANE_ADMIN_TOKEN": ADMIN_TOKEN}, work / "api.log",
            )
        )  # fmt: skip
        det_port = free_port()
        detector = f"http://127.0.0.1:{det_port}"
        hook_log = work / "hooks.log"
        hook_log.touch()
        (work / "detect.yaml").write_text(
            yaml.safe_dump(detect_config(prom.url, am.url, work / "detect.db", det_port, hook_log))
        )
        detector_pid = stack.enter_context(
            service(
                ["detect", "serve", "--config", str(work / "detect.yaml"), "--log-level", "warning"],
                f"{detector}/healthz", {"SLOPLANE_DETECT_TOKEN": "soak-detect"},
                work / "detect.log",
            )
        )  # fmt: skip
        pids = {"exporter": exporter_pid, "api": api_pid, "detector": detector_pid}
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        slo_ids = [
            s["id"] for s in httpx.get(f"{api}/api/v1/slos", headers=auth, timeout=60).json()
        ]

        threads = _load(stats, stop, exporter, api, detector, slow.url, slo_ids, hostile)
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while time.monotonic() - started < minutes * 60:
            stats.rss.append((time.monotonic() - started, {k: rss(p) for k, p in pids.items()}))
            time.sleep(min(10.0, max(1.0, minutes * 60 / 30)))
        stats.rss.append((time.monotonic() - started, {k: rss(p) for k, p in pids.items()}))
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        elapsed = time.monotonic() - started
        time.sleep(3)  # let the last outbox rows reach the slow AlertManager
        events = httpx.get(f"{detector}/metrics", timeout=30).text
        outbox, decisions = _detector_db(work / "detect.db")
        with am.lock:
            posts, posted_alerts = am.posts, len(am.alerts)
    if rss_csv is not None:
        rows = [f"{t:.1f},{','.join(str(sizes[k]) for k in pids)}" for t, sizes in stats.rss]
        rss_csv.write_text("\n".join([f"t,{','.join(pids)}", *rows]) + "\n")
    hook_runs = len(hook_log.read_text().splitlines())
    allowed = min(PER_HOUR * math.ceil(elapsed / 3600), math.floor(elapsed / COOLDOWN) + 1)
    return _report(
        stats, elapsed, hostile, events, outbox, decisions, posts, posted_alerts, hook_runs,
        allowed,
    )  # fmt: skip


def _load(
    stats: Stats,
    stop: threading.Event,
    exporter: str,
    api: str,
    detector: str,
    slow_url: str,
    slo_ids: list[str],
    hostile: int,
) -> list[threading.Thread]:
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=200))
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    counter = iter(range(10**9))

    def scrape() -> None:
        resp = timed(stats, "exporter /metrics", lambda: client.get(f"{exporter}/metrics"),
                     lambda s: s == 200)  # fmt: skip
        if resp is None or resp.status_code != 200:
            return
        with stats.lock:
            stats.up_checks += 1
        for prefix, name, address in [("pg", "db", PG), ("redis", "cache", REDIS),
                                      ("rabbitmq", "broker", RABBIT)]:  # fmt: skip
            if sample(resp.text, f"{prefix}_up", target=name) != 1 and answers(address):
                with stats.lock:
                    stats.false_down[f"{prefix}_up"] += 1

    def probe() -> None:
        target = f"{slow_url}/{next(counter)}"
        timed(stats, "exporter /probe (hostile)",
              lambda: client.get(f"{exporter}/probe", params={"module": "web", "target": target}),
              lambda s: s in (200, 503))  # fmt: skip

    def status() -> None:
        slo = random.choice(slo_ids)
        timed(stats, "api status (valid token)",
              lambda: client.get(f"{api}/api/v1/slos/{slo}/status", headers=auth),
              lambda s: s in (200, 503))  # fmt: skip

    def history() -> None:
        slo = random.choice(slo_ids)
        end = time.time()
        start = end - random.randint(3600, 7 * 86400)
        params = {"start": f"{start:.0f}", "end": f"{end:.0f}", "step": "1h"}
        timed(stats, "api history (valid token, new range)",
              lambda: client.get(f"{api}/api/v1/slos/{slo}/history", headers=auth, params=params),
              lambda s: s in (200, 503))  # fmt: skip

    def invalid() -> None:
        bad = {"Authorization": f"Bearer {os.urandom(16).hex()}"}
        timed(stats, "api (invalid token)",
              lambda: client.get(f"{api}/api/v1/slos", headers=bad), lambda s: s == 401)  # fmt: skip

    def detector_metrics() -> None:
        timed(stats, "detector /metrics", lambda: client.get(f"{detector}/metrics"),
              lambda s: s == 200)  # fmt: skip

    plan: list[tuple[float, Callable[[], None]]] = [
        (1.0, scrape),
        # Hostile clients retry at once after a 503; the short pause only keeps a shared
        # machine usable (hundreds of probes a second still arrive).
        *[(0.05, probe)] * hostile,
        (0.05, status),
        (0.05, status),
        (0.2, history),
        (0.05, invalid),
        (0.05, invalid),
        (2.0, detector_metrics),
    ]
    return [
        threading.Thread(target=loop, args=(stop, pause, body), daemon=True) for pause, body in plan
    ]


def _detector_db(path: Path) -> tuple[int, Counter[str]]:
    with sqlite3.connect(path) as conn:
        outbox = conn.execute("SELECT count(*) FROM detect_outbox").fetchone()[0]
        rows = conn.execute("SELECT outcome, count(*) FROM detect_decisions GROUP BY outcome")
        decisions = Counter({str(outcome): int(n) for outcome, n in rows})
    return int(outbox), decisions


def _report(
    stats: Stats,
    elapsed: float,
    hostile: int,
    events: str,
    outbox: int,
    decisions: Counter[str],
    posts: int,
    posted_alerts: int,
    hook_runs: int,
    allowed: int,
) -> str:
    mib = 1 << 20
    lines = [
        f"Soak: {elapsed / 60:.1f} min, {hostile} hostile /probe clients, loopback only.",
        "",
        "| t (s) | exporter RSS (MiB) | API RSS (MiB) | detector RSS (MiB) |",
        "| ---: | ---: | ---: | ---: |",
    ]
    every = max(1, len(stats.rss) // 12)  # about a dozen rows, the last one always shown
    shown_rss = [*stats.rss[:-1:every], stats.rss[-1]]
    for t, sizes in shown_rss:
        lines.append(
            f"| {t:.0f} | {sizes['exporter'] / mib:.0f} | {sizes['api'] / mib:.0f}"
            f" | {sizes['detector'] / mib:.0f} |"
        )
    first, last = stats.rss[0][1], stats.rss[-1][1]
    peak = {k: max(sizes[k] for _, sizes in stats.rss) for k in first}
    lines += [
        "",
        "RSS first → last (peak), MiB: "
        + "; ".join(
            f"{k} {first[k] / mib:.0f} → {last[k] / mib:.0f} ({peak[k] / mib:.0f})" for k in first
        ),
    ]
    tail_start = max(0.0, elapsed - SLOPE_WINDOW)
    tail = [(t, sizes) for t, sizes in stats.rss if t >= tail_start]
    if len(tail) >= 3:
        slopes = {
            k: rss_slope([(t, sizes[k]) for t, sizes in tail]) * 60 / mib * 1024 for k in first
        }
        lines.append(
            f"RSS slope over the last {(elapsed - tail_start) / 60:.1f} min "
            f"(least squares over {len(tail)} samples), KiB/min: "
            + "; ".join(f"{k} {v:+.0f}" for k, v in slopes.items())
        )
    lines += [
        "",
        "| requests | count | p50 (ms) | p99 (ms) | errors | statuses |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind, values in sorted(stats.latencies.items()):
        shown = ", ".join(f"{s}: {n}" for s, n in stats.statuses[kind].most_common())
        lines.append(
            f"| {kind} | {len(values)} | {pct(values, 0.5) * 1000:.0f}"
            f" | {pct(values, 0.99) * 1000:.0f} | {stats.errors[kind]} | {shown} |"
        )
    executed = decisions.get("executed", 0) + decisions.get("failed", 0)
    fired = sample(
        events, "sloplane_detector_events_total", event="alerts_firing", name="soak_flap"
    )
    resolved = sample(
        events, "sloplane_detector_events_total", event="alerts_resolved", name="soak_flap"
    )
    lines += [
        "",
        f"- false `up 0` (target reported down while its server answered): "
        f"{sum(stats.false_down.values())} of {stats.up_checks} scrapes"
        + (f" ({dict(stats.false_down)})" if stats.false_down else ""),
        f"- detector alert events: {fired or 0:.0f} firing, {resolved or 0:.0f} resolved; "
        f"outbox rows queued: {outbox}; POSTs the slow AlertManager accepted: {posts} "
        f"({posted_alerts} alerts)",
        f"- hook runs: {hook_runs}; allowed by the guards (cooldown {COOLDOWN:g}s,"
        f" {PER_HOUR}/hour): at most {allowed}",
        f"- audit rows of runs (executed + failed): {executed} for {hook_runs} hook runs;"
        f" all decisions: {dict(decisions)}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--hostile", type=int, default=40, help="hostile /probe clients")
    parser.add_argument("--flap", type=float, default=20.0, help="seconds between flaps")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--keep", action="store_true", help="keep the services' logs and dbs")
    parser.add_argument("--rss-csv", type=Path, help="also write every RSS sample (t, bytes) here")
    args = parser.parse_args()
    for name, address in [("PostgreSQL", PG), ("Redis", REDIS), ("RabbitMQ", RABBIT)]:
        if not answers(address):
            sys.exit(f"{name} does not answer on {address[0]}:{address[1]}")
    work = Path(tempfile.mkdtemp(prefix="sloplane-soak-"))
    try:
        report = run(args.minutes, args.hostile, args.flap, work, args.rss_csv)
    except BaseException:
        print(f"soak failed; logs and databases kept in {work}", file=sys.stderr)
        raise
    if args.keep:
        print(f"logs and databases: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
