"""PostgreSQL collector against real servers: the machine's, and a private cluster we can stop."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from sloplane.exporters.config import PostgresModule, parse_address
from sloplane.exporters.postgres import APPLICATION_NAME, PostgresBackend
from sloplane.exporters.target import Target
from tests.exporters.conftest import (
    PrivatePostgres,
    assert_promtool_clean,
    closed_port,
    exposition,
    num,
    parse,
    value,
)

pytestmark = pytest.mark.integration  # real servers

DB = "sloplane_exporter_test"


def make_target(address: str, timeout: float = 5.0, **module: object) -> Target:
    backend = PostgresBackend(
        PostgresModule(kind="postgres", timeout_seconds=timeout, **module),
        parse_address("postgres", address),
    )
    return Target(address, backend, timeout)


def scrape(target: Target) -> dict:
    text = exposition(target.scrape())
    return parse(text)


def exporter_connections(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME]
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def admin(postgres_server: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(
        host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
        try:
            yield conn
        finally:
            conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


@pytest.fixture
def db(admin: psycopg.Connection) -> Iterator[psycopg.Connection]:
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=DB, autocommit=True) as conn:
        yield conn


@pytest.fixture
def target(postgres_server: str) -> Iterator[Target]:
    t = make_target(postgres_server)
    yield t
    t.close()


def test_created_rows_temp_files_and_sizes_show_up(target: Target, db: psycopg.Connection) -> None:
    before = scrape(target)
    table = f"t_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE TABLE {table} (id int, payload text)")
    db.execute(f"INSERT INTO {table} SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g")
    db.execute(f"UPDATE {table} SET payload = 'y' WHERE id <= 10")
    db.execute(f"DELETE FROM {table} WHERE id <= 5")
    with db.transaction():
        db.execute("SET LOCAL work_mem = '64kB'")
        db.execute("SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC").fetchall()
    db.execute("SELECT pg_stat_force_next_flush()")
    db.execute("SELECT 1")  # the flush happens at the end of a statement

    after = scrape(target)
    assert value(after, "pg_up") == 1

    def delta(name: str) -> float:
        return (value(after, name, datname=DB) or 0) - (value(before, name, datname=DB) or 0)

    assert delta("pg_stat_database_tup_inserted") >= 5000
    assert delta("pg_stat_database_tup_updated") >= 10
    assert delta("pg_stat_database_tup_deleted") >= 5
    assert delta("pg_stat_database_xact_commit") >= 4
    assert delta("pg_stat_database_temp_bytes") > 0
    assert delta("pg_stat_database_temp_files") >= 1
    assert (value(after, "pg_database_size_bytes", datname=DB) or 0) > 500_000
    row = db.execute("SHOW max_connections").fetchone()
    assert row is not None
    assert value(after, "pg_settings_max_connections") == float(row[0])


def test_open_transaction_and_lock_show_up(target: Target, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS locked (id int)")
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname=DB) as holder:
        holder.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")  # opens a transaction
        time.sleep(0.3)
        samples = scrape(target)
        holder.rollback()
    assert num(samples, "pg_stat_activity_count", datname=DB, state="idle in transaction") >= 1
    assert (
        value(samples, "pg_stat_activity_max_tx_duration", datname=DB, state="idle in transaction")
        or 0
    ) >= 0.3
    assert (value(samples, "pg_locks_count", datname=DB, mode="accessexclusivelock") or 0) >= 1
    after = scrape(target)
    assert value(after, "pg_locks_count", datname=DB, mode="accessexclusivelock") == 0


def test_exposition_is_promtool_clean(target: Target) -> None:
    assert_promtool_clean(exposition(target.scrape()))


def test_connection_is_reused_over_1000_scrapes(target: Target, admin: psycopg.Connection) -> None:
    target.scrape()
    before = exporter_connections(admin)
    for _ in range(1000):
        target.scrape()
    assert exporter_connections(admin) == before


def test_unreachable_server_is_down_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    target = make_target(f"127.0.0.1:{closed_port()}", timeout=2)
    with caplog.at_level(logging.WARNING, logger="sloplane.exporters"):
        samples = scrape(target)
    assert value(samples, "pg_up") == 0
    assert value(samples, "pg_last_scrape_error") == 1
    assert value(samples, "pg_scrape_errors_total", reason="connection") == 1
    assert any("is down: connection" in r.getMessage() for r in caplog.records)


def test_unknown_role_is_an_auth_error(postgres_server: str) -> None:
    samples = scrape(make_target(postgres_server, user="no_such_role_sloplane"))
    assert value(samples, "pg_up") == 0
    assert value(samples, "pg_scrape_errors_total", reason="auth") == 1


def test_wrong_password_is_an_auth_error_with_a_clear_message(
    private_postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    good = make_target(private_postgres.address, password=private_postgres.password)
    assert value(scrape(good), "pg_up") == 1
    good.close()
    bad = make_target(private_postgres.address, password="wrong")
    with caplog.at_level(logging.WARNING, logger="sloplane.exporters"):
        samples = scrape(bad)
    assert value(samples, "pg_up") == 0
    assert value(samples, "pg_scrape_errors_total", reason="auth") == 1
    assert any("password authentication failed" in r.getMessage() for r in caplog.records)


def test_password_file_is_read(private_postgres: PrivatePostgres, tmp_path) -> None:
    secret = tmp_path / "pgpass"
    secret.write_text(private_postgres.password + "\n")
    target = make_target(private_postgres.address, password_file=secret)
    assert value(scrape(target), "pg_up") == 1
    target.close()


def test_stopped_server_is_down_and_the_connection_is_replaced_on_restart(
    private_postgres: PrivatePostgres,
) -> None:
    target = make_target(private_postgres.address, password=private_postgres.password, timeout=3)
    assert value(scrape(target), "pg_up") == 1
    private_postgres.stop()
    try:
        assert value(scrape(target), "pg_up") == 0
    finally:
        private_postgres.start()
    assert value(scrape(target), "pg_up") == 1
    with private_postgres.connect() as conn:
        assert exporter_connections(conn) == 1
    target.close()


def test_locked_catalog_times_out_without_piling_up(private_postgres: PrivatePostgres) -> None:
    """A lock on pg_database blocks our queries: scrapes end at the timeout, sharing one collection."""
    target = make_target(private_postgres.address, password=private_postgres.password, timeout=1)
    assert value(scrape(target), "pg_up") == 1
    with (
        private_postgres.connect() as watcher,
        psycopg.connect(
            host="127.0.0.1",
            port=private_postgres.port,
            user="postgres",
            password=private_postgres.password,
        ) as locker,
    ):
        locker.execute("LOCK TABLE pg_database IN ACCESS EXCLUSIVE MODE")
        results: list[dict] = []
        threads = [
            threading.Thread(target=lambda: results.append(scrape(target))) for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        locker.rollback()
        assert len(results) == 10
        assert all(value(r, "pg_up") == 0 for r in results)
        errors = value(results[-1], "pg_scrape_errors_total", reason="timeout")
        assert errors is not None and errors <= 3  # one shared collection, not ten
        assert exporter_connections(watcher) == 1  # after the rollback: it reads pg_database
    assert value(scrape(target), "pg_up") == 1
    target.close()


def test_streaming_replica_reports_role_and_lag(private_postgres: PrivatePostgres) -> None:
    """A real streaming replica of the private cluster: the replica reports its role and lag,
    the primary reports the replica's lag in bytes."""
    import os
    import shutil
    import subprocess

    from tests.exporters.conftest import PG_BIN, wait_until
    from tests.support.processes import free_port

    base = private_postgres.data_dir.parent / "replica"  # a directory the postgres user can reach
    base.mkdir()
    subprocess.run(["chown", "postgres:postgres", str(base)], check=True)
    env = {**os.environ, "PGPASSWORD": private_postgres.password}
    subprocess.run(
        [
            "runuser", "-u", "postgres", "--", str(PG_BIN / "pg_basebackup"),
            "-h", "127.0.0.1", "-p", str(private_postgres.port), "-U", "postgres",
            "-D", str(base / "data"), "-R", "-X", "stream", "--no-sync",
        ],
        check=True, capture_output=True, timeout=120, env=env,
    )  # fmt: skip
    replica = PrivatePostgres(
        free_port(), base / "data", private_postgres.socket_dir, private_postgres.password
    )
    replica.start()
    try:
        replica_target = make_target(replica.address, password=replica.password)
        primary_target = make_target(private_postgres.address, password=private_postgres.password)
        with private_postgres.connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS replicated (id int)")
            conn.execute("INSERT INTO replicated VALUES (1)")
        wait_until(
            lambda: (
                value(scrape(primary_target), "pg_stat_replication_pg_wal_lsn_diff") is not None
            ),
            30,
            what="replica connected to the primary",
        )
        on_replica = scrape(replica_target)
        assert value(on_replica, "pg_up") == 1
        assert value(on_replica, "pg_replication_is_replica") == 1
        assert (value(on_replica, "pg_replication_lag_seconds") or 0) >= 0
        on_primary = scrape(primary_target)
        assert value(on_primary, "pg_replication_is_replica") == 0
        assert (value(on_primary, "pg_stat_replication_pg_wal_lsn_diff") or 0) >= 0
        replica_target.close()
        primary_target.close()
    finally:
        replica.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_frozen_backend_times_out_and_recovers(private_postgres: PrivatePostgres) -> None:
    """SIGSTOP the server process behind our connection: every scrape still answers (up 0,
    timeout) and no second connection is opened; after SIGCONT the target is up again."""
    import os
    import signal

    from tests.exporters.conftest import wait_until

    target = make_target(private_postgres.address, password=private_postgres.password, timeout=1)
    assert value(scrape(target), "pg_up") == 1
    with private_postgres.connect() as watcher:
        row = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME]
        ).fetchone()
        assert row is not None
        backend_pid = int(row[0])
        os.kill(backend_pid, signal.SIGSTOP)
        try:
            results: list[dict] = []
            threads = [
                threading.Thread(target=lambda: results.append(scrape(target))) for _ in range(5)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            results.append(scrape(target))
            assert len(results) == 6
            assert all(value(r, "pg_up") == 0 for r in results)
            assert value(results[-1], "pg_scrape_errors_total", reason="timeout") == 1
        finally:
            os.kill(backend_pid, signal.SIGCONT)
        wait_until(lambda: value(scrape(target), "pg_up") == 1, 30, what="target up again")
        assert exporter_connections(watcher) == 1
    target.close()
