"""Scrape latency, CPU and memory: sloplane's exporter against the usual Go exporters.

Run: ``.venv/bin/python benchmarks/exporters_scrape.py [--scrapes 500] [--out FILE.md]``

Side by side, in one run, against the same local servers:
- PostgreSQL: sloplane ``/probe?module=postgres`` vs Debian's ``prometheus-postgres-exporter``;
- Redis: sloplane ``/probe?module=redis`` vs Debian's ``prometheus-redis-exporter``;
- RabbitMQ: sloplane ``/probe?module=rabbitmq`` (management API mode) vs RabbitMQ's
  built-in ``rabbitmq_prometheus`` plugin (``/metrics/per-object``, per-queue like ours).

Each exporter gets 20 warm-up scrapes and then ``--scrapes`` sequential scrapes from one
keep-alive client; latency is the client's wall time per scrape (p50/p99), CPU is the
exporter process's user+system time over the measured scrapes divided by their number
(for the RabbitMQ plugin that is the broker's own CPU, so it is not reported), memory is
its RSS at the end. The Go exporters are installed with apt-get when missing (root only);
otherwise that side is skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.processes import free_port, stop_process, wait_http_ok  # noqa: E402

PG = "127.0.0.1:5432"
REDIS = "127.0.0.1:6379"
RABBIT = "127.0.0.1:5672"
WARMUP = 20

# concept -> (our series, candidate series of the other exporter)
CORE: dict[str, list[tuple[str, str, list[str]]]] = {
    "postgres": [
        ("up", "pg_up", ["pg_up"]),
        ("connections by state", "pg_connections", ["pg_stat_activity_count"]),
        ("max_connections", "pg_max_connections", ["pg_settings_max_connections"]),
        ("commits", "pg_stat_database_xact_commit_total", ["pg_stat_database_xact_commit"]),
        ("rollbacks", "pg_stat_database_xact_rollback_total", ["pg_stat_database_xact_rollback"]),
        ("cache hits / reads", "pg_stat_database_blks_hit_total", ["pg_stat_database_blks_hit"]),
        (
            "tuples inserted",
            "pg_stat_database_tup_inserted_total",
            ["pg_stat_database_tup_inserted"],
        ),
        ("deadlocks", "pg_stat_database_deadlocks_total", ["pg_stat_database_deadlocks"]),
        ("temp bytes", "pg_stat_database_temp_bytes_total", ["pg_stat_database_temp_bytes"]),
        ("database size", "pg_database_size_bytes", ["pg_database_size_bytes"]),
        ("locks by mode", "pg_locks", ["pg_locks_count"]),
        (
            "longest transaction",
            "pg_longest_transaction_seconds",
            ["pg_stat_activity_max_tx_duration"],
        ),
        ("replica?", "pg_replication_is_replica", ["pg_replication_is_replica"]),
        (
            "replication lag",
            "pg_replication_lag_seconds",
            ["pg_replication_lag", "pg_replication_lag_seconds"],
        ),
        (
            "checkpoints",
            "pg_checkpoints_timed_total",
            ["pg_stat_bgwriter_checkpoints_timed", "pg_stat_bgwriter_checkpoints_timed_total"],
        ),
    ],
    "redis": [
        ("up", "redis_up", ["redis_up"]),
        ("clients", "redis_connected_clients", ["redis_connected_clients"]),
        ("memory used", "redis_memory_used_bytes", ["redis_memory_used_bytes"]),
        ("memory max", "redis_memory_max_bytes", ["redis_memory_max_bytes"]),
        ("memory RSS", "redis_memory_used_rss_bytes", ["redis_memory_used_rss_bytes"]),
        (
            "commands processed",
            "redis_commands_processed_total",
            ["redis_commands_processed_total"],
        ),
        ("per-command calls", "redis_commands_total", ["redis_commands_total"]),
        (
            "per-command time",
            "redis_commands_duration_seconds_total",
            ["redis_commands_duration_seconds_total"],
        ),
        (
            "per-command failures",
            "redis_commands_failed_calls_total",
            ["redis_commands_failed_calls_total"],
        ),
        ("keyspace hits", "redis_keyspace_hits_total", ["redis_keyspace_hits_total"]),
        ("evictions", "redis_evicted_keys_total", ["redis_evicted_keys_total"]),
        ("expirations", "redis_expired_keys_total", ["redis_expired_keys_total"]),
        ("keys per db", "redis_db_keys", ["redis_db_keys"]),
        ("slowlog length", "redis_slowlog_length", ["redis_slowlog_length"]),
        ("master link", "redis_master_link_up", ["redis_master_link_up"]),
        (
            "latency percentiles",
            "redis_command_latency_seconds",
            ["redis_latency_percentiles_usec"],
        ),
    ],
    "rabbitmq": [
        ("up", "rabbitmq_up", ["rabbitmq_build_info"]),
        ("queue ready", "rabbitmq_queue_messages_ready", ["rabbitmq_queue_messages_ready"]),
        ("queue unacked", "rabbitmq_queue_messages_unacked", ["rabbitmq_queue_messages_unacked"]),
        ("queue consumers", "rabbitmq_queue_consumers", ["rabbitmq_queue_consumers"]),
        (
            "published",
            "rabbitmq_queue_messages_published_total",
            ["rabbitmq_queue_messages_published_total", "rabbitmq_global_messages_received_total"],
        ),
        (
            "delivered",
            "rabbitmq_queue_messages_delivered_total",
            ["rabbitmq_global_messages_delivered_total"],
        ),
        (
            "acked",
            "rabbitmq_queue_messages_acked_total",
            ["rabbitmq_global_messages_acknowledged_total"],
        ),
        (
            "node memory",
            "rabbitmq_node_memory_used_bytes",
            ["rabbitmq_process_resident_memory_bytes"],
        ),
        ("memory alarm", "rabbitmq_node_memory_alarm", ["rabbitmq_alarms_memory_used_watermark"]),
        (
            "disk alarm",
            "rabbitmq_node_disk_free_alarm",
            ["rabbitmq_alarms_free_disk_space_watermark"],
        ),
    ],
}


@dataclass
class Result:
    name: str
    kind: str
    latencies: list[float]
    cpu_per_scrape: float | None
    rss: int | None
    series: set[str]
    samples: int


def series_names(text: str) -> tuple[set[str], int]:
    names: set[str] = set()
    count = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.add(sample.name)
            count += 1
    return names, count


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Subject:
    name: str
    kind: str
    url: str
    pid: int | None


def measure(subjects: list[Subject], scrapes: int) -> list[Result]:
    """Scrape the subjects of one kind in turn (A, B, A, B...), so they share whatever load
    the machine has at that moment."""
    clients = [httpx.Client(timeout=30) for _ in subjects]
    try:
        for client, subject in zip(clients, subjects, strict=True):
            for _ in range(WARMUP):
                client.get(subject.url).raise_for_status()
        cpu0 = [proc_cpu(s.pid) if s.pid else 0.0 for s in subjects]
        latencies: list[list[float]] = [[] for _ in subjects]
        texts = [""] * len(subjects)
        for _ in range(scrapes):
            for i, (client, subject) in enumerate(zip(clients, subjects, strict=True)):
                started = time.perf_counter()
                resp = client.get(subject.url)
                latencies[i].append(time.perf_counter() - started)
                resp.raise_for_status()
                texts[i] = resp.text
        results = []
        for i, subject in enumerate(subjects):
            # Two sloplane rows of one kind share the process: their CPU is split between them.
            shared = sum(1 for other in subjects if other.pid == subject.pid)
            cpu = (proc_cpu(subject.pid) - cpu0[i]) / scrapes / shared if subject.pid else None
            names, count = series_names(texts[i])
            rss = proc_rss(subject.pid) if subject.pid else None
            results.append(Result(subject.name, subject.kind, latencies[i], cpu, rss, names, count))
        return results
    finally:
        for client in clients:
            client.close()


def ensure_debian_package(binary: str, package: str) -> str | None:
    path = shutil.which(binary)
    if path:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"skip: {binary} missing and apt-get is not usable here", file=sys.stderr)
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(
        ["apt-get", "install", "-y", "-q", package],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False, env=env)
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-q", package],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    path = shutil.which(binary)
    if not path:
        print(f"skip: cannot install {package}: {proc.stderr.strip()[-300:]}", file=sys.stderr)
    return path


def rabbitmq_prometheus_url() -> str | None:
    url = "http://127.0.0.1:15692/metrics/per-object"
    try:
        if httpx.get(url, timeout=5).status_code == 200:
            return url
    except httpx.HTTPError:
        pass
    proc = subprocess.run(
        ["rabbitmq-plugins", "enable", "rabbitmq_prometheus", "rabbitmq_management"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        print(f"skip: cannot enable rabbitmq_prometheus: {proc.stderr.strip()}", file=sys.stderr)
        return None
    try:
        wait_http_ok(url, timeout=60)
    except TimeoutError as exc:
        print(f"skip: rabbitmq_prometheus did not answer: {exc}", file=sys.stderr)
        return None
    return url


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(results: list[Result], scrapes: int) -> str:
    lines = [
        f"Scrapes per exporter: {scrapes} (after {WARMUP} warm-up), sequential, one keep-alive client.",
        "",
        "Kinds run one after the other; within a kind, exporters are scraped in turn.",
        "",
        "| kind | exporter | p50 ms | p99 ms | mean ms | CPU ms/scrape | RSS MiB | samples |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cpu = f"{r.cpu_per_scrape * 1000:.2f}" if r.cpu_per_scrape is not None else "n/a (broker)"
        rss = f"{r.rss / 2**20:.0f}" if r.rss else "n/a"
        lines.append(
            f"| {r.kind} | {r.name} | {pct(r.latencies, 0.5) * 1000:.2f} | {pct(r.latencies, 0.99) * 1000:.2f}"
            f" | {statistics.fmean(r.latencies) * 1000:.2f} | {cpu} | {rss} | {r.samples} |"
        )
    lines.append("")
    for kind, concepts in CORE.items():
        ours = next((r for r in results if r.kind == kind and r.name == "sloplane"), None)
        theirs = next(
            (r for r in results if r.kind == kind and not r.name.startswith("sloplane")), None
        )
        if ours is None:
            continue
        other = theirs.name if theirs else "(skipped)"
        lines += [
            f"Core families, {kind}:",
            "",
            f"| concept | sloplane | {other} |",
            "| --- | --- | --- |",
        ]
        for concept, mine, candidates in concepts:
            have = f"`{mine}`" if mine in ours.series else "—"
            # prometheus_client's parser names counter samples with _total even when the
            # exposition does not (the Go exporters' older counters), so accept both.
            found = [
                c
                for c in candidates
                if theirs and (c in theirs.series or f"{c}_total" in theirs.series)
            ]
            lines.append(f"| {concept} | {have} | {('`' + found[0] + '`') if found else '—'} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scrapes", type=int, default=500)
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    args = parser.parse_args()

    procs: list[subprocess.Popen[bytes]] = []
    results: list[Result] = []
    workdir = Path(tempfile.mkdtemp(prefix="sloplane-bench-"))
    try:
        # The servers are on loopback: /probe is off by default and refuses loopback unless
        # a module names it, so the modules here (built-in names replaced) name it.
        local = ["127.0.0.0/8"]
        config = {
            "probe": {"enabled": True},
            "modules": {
                "postgres": {"kind": "postgres", "allowed_targets": local},
                "redis": {"kind": "redis", "allowed_targets": local},
                "rabbitmq": {"kind": "rabbitmq", "management": "on", "allowed_targets": local},
                "pg_nocache": {
                    "kind": "postgres",
                    "size_cache_seconds": 0,
                    "allowed_targets": local,
                },
            },
            "targets": [],
        }
        (workdir / "exporters.yaml").write_text(yaml.safe_dump(config))
        port = free_port()
        ours = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sloplane.cli",
                "exporter",
                "--config",
                str(workdir / "exporters.yaml"),
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
        )
        procs.append(ours)
        wait_http_ok(f"http://127.0.0.1:{port}/-/healthy", timeout=60, proc=ours)
        base = f"http://127.0.0.1:{port}/probe"

        pg_exporter = ensure_debian_package(
            "prometheus-postgres-exporter", "prometheus-postgres-exporter"
        )
        redis_exporter = ensure_debian_package(
            "prometheus-redis-exporter", "prometheus-redis-exporter"
        )
        rabbit_url = rabbitmq_prometheus_url()

        pg_subjects = [
            Subject("sloplane", "postgres", f"{base}?module=postgres&target={PG}", ours.pid)
        ]
        if pg_exporter:
            p = free_port()
            env = {
                **os.environ,
                "DATA_SOURCE_NAME": f"postgresql://postgres@{PG}/postgres?sslmode=disable",
            }
            proc = subprocess.Popen(
                [pg_exporter, f"--web.listen-address=127.0.0.1:{p}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            wait_http_ok(f"http://127.0.0.1:{p}/metrics", timeout=60, proc=proc)
            pg_subjects.append(
                Subject(
                    "postgres_exporter (Debian)",
                    "postgres",
                    f"http://127.0.0.1:{p}/metrics",
                    proc.pid,
                )
            )
        # Database sizes on every scrape, as postgres_exporter computes them.
        pg_subjects.append(
            Subject(
                "sloplane, size_cache_seconds: 0",
                "postgres",
                f"{base}?module=pg_nocache&target={PG}",
                ours.pid,
            )
        )
        results += measure(pg_subjects, args.scrapes)

        redis_subjects = [
            Subject("sloplane", "redis", f"{base}?module=redis&target={REDIS}", ours.pid)
        ]
        if redis_exporter:
            p = free_port()
            proc = subprocess.Popen(
                [
                    redis_exporter,
                    "-redis.addr",
                    f"redis://{REDIS}",
                    "-web.listen-address",
                    f"127.0.0.1:{p}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            wait_http_ok(f"http://127.0.0.1:{p}/metrics", timeout=60, proc=proc)
            redis_subjects.append(
                Subject(
                    "redis_exporter (Debian)", "redis", f"http://127.0.0.1:{p}/metrics", proc.pid
                )
            )
        results += measure(redis_subjects, args.scrapes)

        rabbit_subjects = [
            Subject("sloplane", "rabbitmq", f"{base}?module=rabbitmq&target={RABBIT}", ours.pid)
        ]
        if rabbit_url:
            rabbit_subjects.append(
                Subject("rabbitmq_prometheus (built-in)", "rabbitmq", rabbit_url, None)
            )
        results += measure(rabbit_subjects, args.scrapes)
    finally:
        for proc in procs:
            stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)

    text = report(results, args.scrapes) + f"\nLoad average at the end: {os.getloadavg()}\n"
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
