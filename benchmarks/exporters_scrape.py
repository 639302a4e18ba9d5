"""Scrape latency, CPU and memory: sloplane's exporter against the usual Go exporters.

Run: ``.venv/bin/python benchmarks/exporters_scrape.py [--scrapes 500] [--out FILE.md]``

Side by side, in one run, against the same topologies, built on loopback by the test
fixtures in ``tests/support/`` (the stacks sloplane watches):
- PostgreSQL: a primary with a streaming replica; sloplane vs Debian's
  ``prometheus-postgres-exporter``, both on the primary;
- Redis: a master with a replica (and a Sentinel); sloplane vs Debian's
  ``prometheus-redis-exporter``, both on the master;
- RabbitMQ: a two-node cluster; sloplane (management API mode) vs RabbitMQ's built-in
  ``rabbitmq_prometheus`` plugin (``/metrics/per-object``, per-queue like ours), on node 1.

sloplane runs one exporter process per kind, configured with that one target (its
``/metrics``), so its RSS is what a PostgreSQL-only (Redis-only...) exporter costs: the
other kinds' client libraries are imported lazily and never load.

Each exporter gets 20 warm-up scrapes and then ``--scrapes`` sequential scrapes from one
keep-alive client; latency is the client's wall time per scrape (p50/p99), CPU is the
exporter process's user+system time over the measured scrapes divided by their number
(for the RabbitMQ plugin that is the broker's own CPU, so it is not reported), memory is
its RSS at the end (the exporter's is that of its serving image: ``sloplane exporter``
execs it under the same PID). After the RabbitMQ scrapes, each management API request a
default-mode scrape sends is timed alone and the three at once, to show where that mode's
time goes. The Go exporters are installed with apt-get when missing (root only);
otherwise that side is skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
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

WARMUP = 20

# concept -> (our series, candidate series of the other exporter)
CORE: dict[str, list[tuple[str, str, list[str]]]] = {
    "postgres": [
        ("up", "pg_up", ["pg_up"]),
        ("connections by state", "pg_stat_activity_count", ["pg_stat_activity_count"]),
        ("max_connections", "pg_settings_max_connections", ["pg_settings_max_connections"]),
        ("commits", "pg_stat_database_xact_commit", ["pg_stat_database_xact_commit"]),
        ("cache hits / reads", "pg_stat_database_blks_hit", ["pg_stat_database_blks_hit"]),
        ("database size", "pg_database_size_bytes", ["pg_database_size_bytes"]),
        ("locks by mode", "pg_locks_count", ["pg_locks_count"]),
        (
            "oldest transaction",
            "pg_stat_activity_max_tx_duration",
            ["pg_stat_activity_max_tx_duration"],
        ),
        ("replica?", "pg_replication_is_replica", ["pg_replication_is_replica"]),
        (
            "lag per replica (bytes)",
            "pg_stat_replication_pg_wal_lsn_diff",
            ["pg_stat_replication_pg_wal_lsn_diff"],
        ),
        ("slots active", "pg_replication_slots_active", ["pg_replication_slots_active"]),
        ("slot retained WAL", "pg_replication_slots_retained_wal_bytes", []),
        (
            "wraparound age",
            "pg_database_wraparound_age_datfrozenxid_seconds",
            ["pg_database_wraparound_age_datfrozenxid_seconds"],
        ),
        (
            "top statements",
            "pg_stat_statements_seconds_total",
            ["pg_stat_statements_seconds_total"],
        ),
        ("dead tuples", "pg_stat_user_tables_n_dead_tup", ["pg_stat_user_tables_n_dead_tup"]),
        ("archiver", "pg_stat_archiver_archived_count", ["pg_stat_archiver_archived_count"]),
        (
            "checkpoints",
            "pg_stat_bgwriter_checkpoints_timed_total",
            ["pg_stat_bgwriter_checkpoints_timed_total"],
        ),
    ],
    "redis": [
        ("up", "redis_up", ["redis_up"]),
        ("clients", "redis_connected_clients", ["redis_connected_clients"]),
        ("memory used", "redis_memory_used_bytes", ["redis_memory_used_bytes"]),
        (
            "commands processed",
            "redis_commands_processed_total",
            ["redis_commands_processed_total"],
        ),
        ("per-command calls", "redis_commands_total", ["redis_commands_total"]),
        ("keyspace hits", "redis_keyspace_hits_total", ["redis_keyspace_hits_total"]),
        ("keys per db", "redis_db_keys", ["redis_db_keys"]),
        ("connected replicas", "redis_connected_slaves", ["redis_connected_slaves"]),
        (
            "replica offset",
            "redis_connected_slave_offset_bytes",
            ["redis_connected_slave_offset_bytes"],
        ),
        ("RDB status", "redis_rdb_last_bgsave_status", ["redis_rdb_last_bgsave_status"]),
        ("CPU", "redis_cpu_user_seconds_total", ["redis_cpu_user_seconds_total"]),
        (
            "latency percentiles",
            "redis_command_latency_seconds",
            ["redis_latency_percentiles_usec"],
        ),
    ],
    "rabbitmq": [
        ("identity", "rabbitmq_identity_info", ["rabbitmq_identity_info"]),
        ("queue ready", "rabbitmq_queue_messages_ready", ["rabbitmq_queue_messages_ready"]),
        ("queue unacked", "rabbitmq_queue_messages_unacked", ["rabbitmq_queue_messages_unacked"]),
        ("queue consumers", "rabbitmq_queue_consumers", ["rabbitmq_queue_consumers"]),
        (
            "received",
            "rabbitmq_global_messages_received_total",
            ["rabbitmq_global_messages_received_total"],
        ),
        (
            "redelivered",
            "rabbitmq_global_messages_redelivered_total",
            ["rabbitmq_global_messages_redelivered_total"],
        ),
        (
            "node memory",
            "rabbitmq_process_resident_memory_bytes",
            ["rabbitmq_process_resident_memory_bytes"],
        ),
        (
            "memory alarm",
            "rabbitmq_alarms_memory_used_watermark",
            ["rabbitmq_alarms_memory_used_watermark"],
        ),
        ("nodes running", "rabbitmq_cluster_nodes_running", []),
        ("partitions", "rabbitmq_node_partitions", []),
        ("queue members online", "rabbitmq_queue_members_online", []),
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
        rss = f"{r.rss / 2**20:.1f}" if r.rss else "n/a"
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


def start_sloplane(
    stack: contextlib.ExitStack, workdir: Path, kind: str, module: dict[str, object], address: str
) -> Subject:
    """A sloplane exporter process with one target of one kind (its /metrics)."""
    config = {
        "modules": {kind: module},
        "targets": [{"name": kind, "module": kind, "address": address}],
    }
    path = workdir / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sloplane.cli", "exporter", "--config", str(path),
         "--listen", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
    )  # fmt: skip
    stack.callback(stop_process, proc)
    wait_http_ok(f"http://127.0.0.1:{port}/-/healthy", timeout=60, proc=proc)
    return Subject("sloplane", kind.split("-")[0], f"http://127.0.0.1:{port}/metrics", proc.pid)


def start_go(
    stack: contextlib.ExitStack, name: str, kind: str, argv: list[str], env: dict[str, str]
) -> Subject:
    port = free_port()
    args = [a.replace("PORT", str(port)) for a in argv]
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stack.callback(stop_process, proc)
    wait_http_ok(f"http://127.0.0.1:{port}/metrics", timeout=60, proc=proc)
    return Subject(name, kind, f"http://127.0.0.1:{port}/metrics", proc.pid)


def bench_postgres(workdir: Path, scrapes: int) -> list[Result]:
    from tests.support.topology_postgres import postgres_topology

    with contextlib.ExitStack() as stack:
        topo = stack.enter_context(postgres_topology())
        with topo.primary.connect() as conn:
            conn.execute("CREATE TABLE bench (id int)")
            conn.execute("INSERT INTO bench SELECT generate_series(1, 10000)")
            conn.execute("DELETE FROM bench WHERE id % 3 = 0")
        subjects = [
            start_sloplane(stack, workdir, "postgres", {"kind": "postgres"}, topo.primary.address)
        ]
        binary = ensure_debian_package(
            "prometheus-postgres-exporter", "prometheus-postgres-exporter"
        )
        if binary:
            dsn = f"postgresql://postgres@{topo.primary.address}/postgres?sslmode=disable"
            subjects.append(
                start_go(stack, "postgres_exporter (Debian)", "postgres",
                         [binary, "--web.listen-address=127.0.0.1:PORT"], {"DATA_SOURCE_NAME": dsn})
            )  # fmt: skip
        return measure(subjects, scrapes)


def bench_redis(workdir: Path, scrapes: int) -> list[Result]:
    from tests.support.topology_redis import redis_topology

    with contextlib.ExitStack() as stack:
        topo = stack.enter_context(redis_topology())
        client = topo.master.client()
        for i in range(1000):
            client.set(f"bench:{i}", "x" * 100)
        subjects = [start_sloplane(stack, workdir, "redis", {"kind": "redis"}, topo.master.address)]
        binary = ensure_debian_package("prometheus-redis-exporter", "prometheus-redis-exporter")
        if binary:
            subjects.append(
                start_go(stack, "redis_exporter (Debian)", "redis",
                         [binary, "-redis.addr", f"redis://{topo.master.address}",
                          "-web.listen-address", "127.0.0.1:PORT"], {})
            )  # fmt: skip
        return measure(subjects, scrapes)


def bench_rabbitmq(workdir: Path, scrapes: int) -> list[Result]:
    import pika

    from tests.support.topology_rabbitmq import rabbitmq_cluster

    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(rabbitmq_cluster(2))
        node = cluster.nodes[0]
        conn = pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=node.amqp))
        channel = conn.channel()
        for i in range(20):
            kind = "quorum" if i % 2 else "classic"
            channel.queue_declare(f"bench-{i}", durable=True, arguments={"x-queue-type": kind})
            for _ in range(10):
                channel.basic_publish("", f"bench-{i}", b"m")
        conn.close()
        module = {"kind": "rabbitmq", "management": "on", "management_port": node.management}
        subjects = [start_sloplane(stack, workdir, "rabbitmq", module, node.address)]
        plugin = node.plugin_url.replace("/metrics", "/metrics/per-object")
        subjects.append(Subject("rabbitmq_prometheus (built-in)", "rabbitmq", plugin, None))
        # The recommended pairing: the plugin for what it has, ours for the cluster view only.
        beside = start_sloplane(
            stack, workdir, "rabbitmq-beside", {**module, "beside_plugin": True}, node.address
        )
        subjects.append(Subject("sloplane, beside_plugin", "rabbitmq", beside.url, beside.pid))
        results = measure(subjects, scrapes)
        NOTES.extend(management_requests(node.management, min(scrapes, 200)))
        return results


#: Extra report sections, added by the benches.
NOTES: list[str] = []


def management_requests(port: int, count: int) -> list[str]:
    """Where a management-mode scrape's time goes: each API request the exporter sends,
    timed alone (``count`` in a row on one keep-alive connection), then the three at once."""
    from concurrent.futures import ThreadPoolExecutor

    from sloplane.exporters import rabbitmq as r

    paths = {
        "overview": f"/api/overview?columns={r._OVERVIEW_COLUMNS}",
        "nodes": f"/api/nodes?columns={r._NODE_COLUMNS}",
        "queues": f"/api/queues?columns={r._QUEUE_COLUMNS}",
    }
    base = f"http://127.0.0.1:{port}"
    clients = [httpx.Client(base_url=base, auth=("guest", "guest"), timeout=30) for _ in paths]
    try:
        times: dict[str, list[float]] = {name: [] for name in [*paths, "all three at once"]}
        for client, path in zip(clients, paths.values(), strict=True):
            client.get(path).raise_for_status()  # warm
        for _ in range(count):
            for client, (name, path) in zip(clients, paths.items(), strict=True):
                started = time.perf_counter()
                client.get(path).raise_for_status()
                times[name].append(time.perf_counter() - started)
        with ThreadPoolExecutor(len(paths)) as pool:
            for _ in range(count):
                started = time.perf_counter()
                list(pool.map(lambda cp: cp[0].get(cp[1]).raise_for_status(),
                              zip(clients, paths.values(), strict=True)))  # fmt: skip
                times["all three at once"].append(time.perf_counter() - started)
    finally:
        for client in clients:
            client.close()
    lines = [
        f"RabbitMQ management API requests of a default-mode scrape, node 1, {count} each"
        " (one keep-alive client per request):",
        "",
        "| request | p50 ms | p99 ms |",
        "| --- | ---: | ---: |",
    ]
    for name, values in times.items():
        lines.append(f"| {name} | {pct(values, 0.5) * 1000:.2f} | {pct(values, 0.99) * 1000:.2f} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scrapes", type=int, default=500)
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sloplane-bench-"))
    results: list[Result] = []
    try:
        for bench in (bench_postgres, bench_redis, bench_rabbitmq):
            results += bench(workdir, args.scrapes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(results, args.scrapes) + "\n".join(NOTES)
    text += f"\nLoad average at the end: {os.getloadavg()}\n"
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
