"""PostgreSQL primary + streaming replica, and PgBouncer, built on loopback for these tests.

Lag in bytes and seconds from both sides, slots and retained WAL, wraparound age, top
statements, dead tuples, the pooler's pools; then the replica and the pooler are
stopped and the next scrape says so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from sloplane.exporters.config import PgBouncerModule, PostgresModule, parse_address
from sloplane.exporters.metrics_catalog import PG_STATEMENTS_TOP
from sloplane.exporters.pgbouncer import PgBouncerBackend
from sloplane.exporters.postgres import PostgresBackend
from sloplane.exporters.target import Target
from tests.exporters.conftest import (
    Samples,
    assert_promtool_clean,
    exposition,
    num,
    parse,
    value,
    wait_until,
)
from tests.support.topology_postgres import PgBouncer, PgTopology, pgbouncer, postgres_topology

pytestmark = pytest.mark.integration


def pg_target(address: str) -> Target:
    module = PostgresModule(kind="postgres", timeout_seconds=5)
    return Target(address, PostgresBackend(module, parse_address("postgres", address)), 5)


def scrape(target: Target) -> Samples:
    return parse(exposition(target.scrape()))


@pytest.fixture(scope="module")
def topology() -> Iterator[PgTopology]:
    with postgres_topology() as topo:
        yield topo


@pytest.fixture(scope="module")
def primary(topology: PgTopology) -> Iterator[Target]:
    target = pg_target(topology.primary.address)
    yield target
    target.close()


@pytest.fixture(scope="module")
def replica(topology: PgTopology) -> Iterator[Target]:
    target = pg_target(topology.replica.address)
    yield target
    target.close()


def test_both_sides_see_the_streaming_replica(primary: Target, replica: Target) -> None:
    who = {"application_name": "replica1", "slot_name": "slot_replica1", "state": "streaming"}
    # replay_lsn is NULL until the replica's first status report.
    wait_until(
        lambda: value(scrape(primary), "pg_stat_replication_pg_wal_lsn_diff", **who) is not None,
        30,
        what="the replica's first status report",
    )
    on_primary, on_replica = scrape(primary), scrape(replica)
    assert num(on_primary, "pg_replication_is_replica") == 0
    assert num(on_primary, "pg_replication_connected_replicas") == 1
    assert num(on_primary, "pg_stat_replication_pg_wal_lsn_diff", **who) >= 0
    assert num(on_primary, "pg_stat_replication_pg_current_wal_lsn_bytes", **who) > 0
    assert num(on_primary, "pg_replication_slots_active", slot_name="slot_replica1") == 1
    assert (
        num(on_primary, "pg_replication_slots_retained_wal_bytes", slot_name="slot_replica1") >= 0
    )
    assert num(on_replica, "pg_replication_is_replica") == 1
    assert num(on_replica, "pg_replication_wal_receiver_streaming") == 1
    assert value(on_replica, "pg_replication_connected_replicas") is None
    assert value(on_primary, "pg_replication_wal_receiver_streaming") is None
    assert_promtool_clean(exposition(primary.scrape()))
    assert_promtool_clean(exposition(replica.scrape()))


def test_paused_replay_shows_lag_in_bytes_and_seconds_on_both_sides(
    topology: PgTopology, primary: Target, replica: Target
) -> None:
    with topology.replica.connect() as standby, topology.primary.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS lagging (id int, pad text)")
        # Lag in seconds is the age of the last replayed transaction: have one replayed first.
        wait_until(
            lambda: standby.execute("SELECT to_regclass('lagging')").fetchone() != (None,),
            30,
            what="the table replayed",
        )
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            conn.execute(
                "INSERT INTO lagging SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g"
            )
            wait_until(
                lambda: (value(scrape(replica), "pg_replication_lag_bytes") or 0) > 1_000_000,
                30,
                what="WAL received but not replayed",
            )
            wait_until(
                lambda: (value(scrape(replica), "pg_replication_lag_seconds") or 0) > 0,
                30,
                what="replica lag in seconds",
            )
            on_primary = scrape(primary)
            lag = num(
                on_primary, "pg_stat_replication_pg_wal_lsn_diff", application_name="replica1"
            )
            assert lag > 1_000_000
            retained = num(
                on_primary, "pg_replication_slots_retained_wal_bytes", slot_name="slot_replica1"
            )
            # A physical slot follows the replica's flush position, not its replay.
            assert 0 <= retained < lag
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
    wait_until(
        lambda: value(scrape(replica), "pg_replication_lag_bytes") == 0,
        30,
        what="replica caught up",
    )
    assert value(scrape(replica), "pg_replication_lag_seconds") == 0


def test_wraparound_statements_and_dead_tuples(topology: PgTopology, primary: Target) -> None:
    with topology.primary.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS churn (id int)")
        conn.execute("INSERT INTO churn SELECT generate_series(1, 3000)")
        conn.execute("DELETE FROM churn WHERE id <= 1000")
        for i in range(PG_STATEMENTS_TOP + 20):  # more distinct statements than we report
            conn.execute(f"SELECT sum(id{' + id' * i}) FROM churn")  # distinct query trees
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT 1")
    samples = scrape(primary)
    assert num(samples, "pg_database_wraparound_age_datfrozenxid_seconds", datname="postgres") > 0
    table = {"datname": "postgres", "schemaname": "public", "relname": "churn"}
    assert num(samples, "pg_stat_user_tables_n_dead_tup", **table) >= 1000
    assert num(samples, "pg_stat_user_tables_n_live_tup", **table) >= 1000
    assert num(samples, "pg_stat_user_tables_last_autovacuum", **table) >= 0
    reported = [labels for name, labels in samples if name == "pg_stat_statements_seconds_total"]
    assert len(reported) == PG_STATEMENTS_TOP
    assert num(samples, "pg_stat_statements_tracked") > PG_STATEMENTS_TOP
    assert all(dict(labels)["user"] == "postgres" for labels in reported)
    assert num(samples, "pg_stat_archiver_archived_count") >= 0
    assert num(samples, "pg_settings_max_connections") > 0
    assert num(samples, "pg_settings_shared_buffers_bytes") >= 128 * 1024


@pytest.fixture
def bouncer(topology: PgTopology) -> Iterator[PgBouncer]:
    with pgbouncer(topology.primary, pool_size=1) as pooler:
        yield pooler


def pooled(bouncer: PgBouncer) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1",
        port=bouncer.port,
        user="postgres",
        dbname="postgres",
        autocommit=True,
        prepare_threshold=None,
        connect_timeout=5,
    )


def test_pgbouncer_pool_saturation_then_pooler_stopped(bouncer: PgBouncer) -> None:
    module = PgBouncerModule(kind="pgbouncer", user="postgres", timeout_seconds=3)
    target = Target(
        "pooler", PgBouncerBackend(module, parse_address("pgbouncer", bouncer.address)), 3
    )
    holder, waiters = pooled(bouncer), [pooled(bouncer) for _ in range(2)]
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT 1")  # takes the pool's only server connection
        threads = [threading.Thread(target=c.execute, args=("SELECT 1",)) for c in waiters]
        for thread in threads:
            thread.start()
        pool = {"database": "postgres", "user": "postgres"}
        wait_until(
            lambda: (
                value(scrape(target), "pgbouncer_pools_client_waiting_connections", **pool) == 2
            ),
            20,
            what="two clients waiting",
        )
        samples = scrape(target)
        assert num(samples, "pgbouncer_up") == 1
        assert num(samples, "pgbouncer_pools_server_active_connections", **pool) == 1
        assert num(samples, "pgbouncer_databases_pool_size", database="postgres") == 1
        assert num(samples, "pgbouncer_pools_client_maxwait_seconds", **pool) >= 0
        assert num(samples, "pgbouncer_config_max_client_connections") == 100
        assert_promtool_clean(exposition(target.scrape()))
        holder.execute("COMMIT")
        for thread in threads:
            thread.join(10)
        assert num(scrape(target), "pgbouncer_stats_queries_pooled_total", database="postgres") >= 3
    finally:
        for conn in [holder, *waiters]:
            conn.close()
    bouncer.stop()
    samples = scrape(target)
    assert num(samples, "pgbouncer_up") == 0
    assert num(samples, "pgbouncer_scrape_errors_total", reason="connection") >= 1
    assert value(samples, "pgbouncer_pools_client_waiting_connections", **pool) is None
    target.close()


def test_stopped_replica_shows_at_once_on_both_sides(
    topology: PgTopology, primary: Target, replica: Target
) -> None:
    """Runs last: it stops the replica."""
    topology.replica.stop("immediate")
    samples = scrape(replica)
    assert num(samples, "pg_up") == 0
    assert num(samples, "pg_scrape_errors_total", reason="connection") >= 1
    wait_until(
        lambda: value(scrape(primary), "pg_replication_connected_replicas") == 0,
        10,
        what="the primary sees its replica gone",
    )
    with topology.primary.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS retained (pad text)")
        conn.execute("INSERT INTO retained SELECT repeat('x', 500) FROM generate_series(1, 20000)")
    on_primary = scrape(primary)
    assert num(on_primary, "pg_replication_slots_active", slot_name="slot_replica1") == 0
    # The slot keeps the WAL written since its replica left.
    slot = {"slot_name": "slot_replica1"}
    assert num(on_primary, "pg_replication_slots_retained_wal_bytes", **slot) > 5_000_000
    assert (
        value(on_primary, "pg_stat_replication_pg_wal_lsn_diff", application_name="replica1")
        is None
    )
