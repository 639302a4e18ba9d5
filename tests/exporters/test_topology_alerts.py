"""End to end: Prometheus scrapes a sloplane exporter watching a real topology, loads the
generated stack rules, and the alert conditions hold once a replica goes away.

The alerts' ``for`` durations (minutes) are pinned by the promtool tests; here Prometheus
evaluates each alert's own expression against live series, so the rules are known to match
what the exporter really exposes when a replica falls behind or disappears.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sloplane.exporters.rules import stack_rule_files, stacks
from tests.exporters.conftest import wait_until
from tests.support.processes import (
    Prometheus,
    free_port,
    prometheus_config,
    run_prometheus,
    stop_process,
    wait_http_ok,
)
from tests.support.topology_postgres import PgTopology, postgres_topology
from tests.support.topology_redis import RedisTopology, redis_topology

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def alert_expr(name: str) -> str:
    for stack in stacks():
        for rule in stack.alerts:
            if rule.alert == name:
                return rule.expr
    raise KeyError(name)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="sloplane-e2e-"))
    for rel, text in stack_rule_files().items():
        if rel.endswith(".rules.yml"):
            (base / Path(rel).name).write_text(text)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def exporter(workdir: Path, targets: list[dict[str, str]]) -> tuple[subprocess.Popen[bytes], str]:
    config = workdir / f"exporters-{len(targets)}-{time.monotonic_ns()}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "modules": {
                    "postgres": {"kind": "postgres", "timeout_seconds": 2},
                    "redis": {"kind": "redis", "timeout_seconds": 2},
                },
                "targets": targets,
            }
        )
    )
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sloplane.cli",
            "exporter",
            "--config",
            str(config),
            "--listen",
            address,
            "--log-level",
            "error",
        ],
        cwd=ROOT,
    )
    wait_http_ok(f"http://{address}/-/healthy", timeout=60, proc=proc)
    return proc, address


def firing(prom: Prometheus, alert: str) -> list[dict[str, str]]:
    return [r["metric"] for r in prom.query(alert_expr(alert))]


@pytest.fixture(scope="module")
def pg() -> Iterator[PgTopology]:
    with postgres_topology() as topo:
        yield topo


def test_postgres_replica_gone_meets_the_alert_conditions(workdir: Path, pg: PgTopology) -> None:
    proc, address = exporter(
        workdir,
        [
            {"name": "main-db", "module": "postgres", "address": pg.primary.address},
            {"name": "main-db-replica", "module": "postgres", "address": pg.replica.address},
        ],
    )
    rules = sorted(str(p) for p in workdir.glob("*.rules.yml"))
    try:
        with run_prometheus(prometheus_config([address], rules, job="sloplane-exporter")) as prom:
            wait_until(
                lambda: len(prom.query("pg_replication_connected_replicas == 1")) == 1,
                30,
                what="Prometheus sees the replica connected",
            )
            assert firing(prom, "PostgresReplicaMissing") == []
            assert firing(prom, "PostgresDown") == []
            pg.replica.stop("immediate")
            wait_until(
                lambda: (
                    {m.get("target") for m in firing(prom, "PostgresDown")} == {"main-db-replica"}
                ),
                30,
                what="PostgresDown's condition for the replica",
            )
            wait_until(
                lambda: (
                    {m.get("target") for m in firing(prom, "PostgresReplicaMissing")} == {"main-db"}
                ),
                30,
                what="PostgresReplicaMissing's condition on the primary",
            )
            # Both of its primary-side conditions: the slot lost its consumer, and fewer
            # replicas stream than in the last 6 hours.
            wait_until(
                lambda: (
                    {m.get("slot_name") for m in firing(prom, "PostgresReplicaMissing")}
                    == {"slot_replica1", None}
                ),
                30,
                what="both primary-side conditions",
            )
    finally:
        stop_process(proc)


def test_redis_link_down_meets_the_alert_condition(workdir: Path) -> None:
    topo: RedisTopology
    with redis_topology() as topo:
        proc, address = exporter(
            workdir,
            [
                {"name": "cache", "module": "redis", "address": topo.master.address},
                {"name": "cache-replica", "module": "redis", "address": topo.replica.address},
            ],
        )
        rules = sorted(str(p) for p in workdir.glob("*.rules.yml"))
        try:
            with run_prometheus(
                prometheus_config([address], rules, job="sloplane-exporter")
            ) as prom:
                wait_until(
                    lambda: (
                        len(prom.query('redis_master_link_up{target="cache-replica"} == 1')) == 1
                    ),
                    30,
                    what="Prometheus sees the link up",
                )
                assert firing(prom, "RedisReplicationLinkDown") == []
                topo.master.stop()
                wait_until(
                    lambda: (
                        {m.get("target") for m in firing(prom, "RedisReplicationLinkDown")}
                        == {"cache-replica"}
                    ),
                    30,
                    what="RedisReplicationLinkDown's condition",
                )
                assert {m.get("target") for m in firing(prom, "RedisDown")} <= {"cache"}
        finally:
            stop_process(proc)
