"""PostgreSQL collector (psycopg 3): one reused connection, one round trip per scrape.

The statistics queries are sent as one multi-statement simple query, so a scrape
costs a single round trip; the checkpoint query depends on the server version
(``pg_stat_checkpointer`` from PostgreSQL 17), read once per connection.
``statement_timeout`` and ``lock_timeout`` bound every statement server-side, and a
scrape that times out sends a cancel request, so a locked server cannot hold the
connection forever.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from typing import Any

import psycopg

from sloplane.exporters.config import Address, PostgresModule
from sloplane.exporters.families import Families
from sloplane.exporters.target import Backend, ScrapeError

APPLICATION_NAME = "sloplane-exporter"

STATES = (
    "active",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "disabled",
)

#: Table-level lock modes, reported as 0 when no lock of that mode is held or awaited.
LOCK_MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)

_OVERVIEW = """
SELECT current_setting('server_version'),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int,
       extract(epoch FROM pg_postmaster_start_time())::float8,
       pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery()
                 OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))
       END::float8,
       (SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8
          FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND xact_start IS NOT NULL
           AND pid <> pg_backend_pid());
SELECT coalesce(datname, ''), coalesce(state, 'disabled'), count(*)
  FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2;
SELECT datname, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched,
       tup_inserted, tup_updated, tup_deleted, deadlocks, conflicts, temp_files, temp_bytes
  FROM pg_stat_database WHERE datname IS NOT NULL;
SELECT coalesce(d.datname, ''), l.mode, l.granted, count(*)
  FROM pg_locks l LEFT JOIN pg_database d ON d.oid = l.database
 WHERE l.pid IS DISTINCT FROM pg_backend_pid() GROUP BY 1, 2, 3;
SELECT coalesce(application_name, ''), coalesce(host(client_addr), 'local'),
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END::float8,
       extract(epoch FROM replay_lag)::float8
  FROM pg_stat_replication;
"""

# pg_database_size() walks every file of every database: the costliest statement by far,
# for a value that moves slowly. It runs at most every size_cache_seconds.
_SIZES = """
SELECT datname, pg_database_size(datname) FROM pg_database
 WHERE datallowconn AND has_database_privilege(datname, 'CONNECT');
"""

_CHECKPOINTS_BEFORE_17 = """
SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time,
       buffers_checkpoint FROM pg_stat_bgwriter;
"""
_CHECKPOINTS_17 = """
SELECT num_timed, num_requested, write_time, sync_time, buffers_written
  FROM pg_stat_checkpointer;
"""

_DATABASE_COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "deadlocks",
    "conflicts",
    "temp_files",
    "temp_bytes",
)

_AUTH_FAILURE = re.compile(
    r"authentication failed|role \S+ does not exist|no pg_hba\.conf entry|permission denied",
    re.IGNORECASE,
)


class PostgresBackend(Backend):
    kind = "postgres"

    def __init__(self, module: PostgresModule, address: Address) -> None:
        self.module = module
        self.address = address
        self._conn: psycopg.Connection[Any] | None = None
        self._script = ""
        self._sizes: list[tuple[Any, ...]] = []
        self._sizes_at: float | None = None

    def collect(self, out: Families) -> None:
        reused = self._conn is not None and not self._conn.closed and not self._conn.broken
        try:
            results = self._query()
        except psycopg.OperationalError:
            # _query drops a broken connection: if a reused one broke, the server went away
            # between scrapes (a restart, an idle timeout), so one fresh connection gets a try.
            if not reused or self._conn is not None:
                raise
            results = self._query()
        _emit(out, results, self._sizes)

    def close(self) -> None:
        self._drop()

    def interrupt(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=1.0)

    def classify(self, exc: Exception) -> ScrapeError:
        message = str(exc).strip().replace("\n", " ")
        if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
            return ScrapeError("timeout", message)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege) or _AUTH_FAILURE.search(message):
            return ScrapeError("auth", message)
        if isinstance(exc, psycopg.OperationalError):
            return ScrapeError("connection", message)
        if isinstance(exc, psycopg.Error):
            return ScrapeError("query", message)
        return super().classify(exc)

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._drop()
            conn = self._connect()
            self._conn = conn
        return conn

    def _connect(self) -> psycopg.Connection[Any]:
        timeout_ms = int(self.module.timeout_seconds * 1000)
        conn = psycopg.connect(
            host=self.address.host,
            port=self.address.port,
            dbname=self.address.path or self.module.database,
            user=self.module.user,
            password=self.module.secret(),
            sslmode=self.module.sslmode,
            application_name=APPLICATION_NAME,
            connect_timeout=max(2, math.ceil(self.module.timeout_seconds)),
            options=f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
            autocommit=True,
            prepare_threshold=None,
        )
        version = conn.info.server_version
        self._script = _OVERVIEW + (
            _CHECKPOINTS_17 if version >= 170000 else _CHECKPOINTS_BEFORE_17
        )
        return conn

    def _query(self) -> list[list[tuple[Any, ...]]]:
        conn = self._connection()
        now = time.monotonic()
        max_age = self.module.size_cache_seconds
        sizes_due = self._sizes_at is None or now - self._sizes_at >= max_age
        script = self._script + (_SIZES if sizes_due else "")
        try:
            with conn.cursor() as cur:
                cur.execute(script.encode())
                results = [cur.fetchall()]
                while cur.nextset():
                    results.append(cur.fetchall())
        except psycopg.Error:
            if conn.broken or conn.closed:
                self._drop()
            raise
        if sizes_due:
            self._sizes, self._sizes_at = results.pop(), now
        return results

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _emit(
    out: Families, results: list[list[tuple[Any, ...]]], sizes: list[tuple[Any, ...]]
) -> None:
    overview, activity, databases, locks, replicas, checkpoints = results
    version, max_conn, reserved, started, in_recovery, lag, longest = overview[0]
    out.add("pg_server", 1, version=str(version).split(" ")[0])
    out.add("pg_max_connections", max_conn)
    out.add("pg_superuser_reserved_connections", reserved)
    out.add("pg_postmaster_start_time_seconds", started)
    out.add("pg_replication_is_replica", bool(in_recovery))
    out.add("pg_replication_lag_seconds", lag)
    out.add("pg_longest_transaction_seconds", longest)

    counts: dict[tuple[str, str], int] = {}
    for datname, state, count in activity:
        counts[(datname, state)] = count
    for datname in sorted({d for d, _ in counts}):
        for state in sorted({*STATES, *(s for d, s in counts if d == datname)}):
            out.add("pg_connections", counts.get((datname, state), 0), datname=datname, state=state)

    for row in databases:
        datname = row[0]
        for column, value in zip(_DATABASE_COUNTERS, row[1:], strict=True):
            out.add(f"pg_stat_database_{column}", value, datname=datname)
    for datname, size in sorted(sizes):
        out.add("pg_database_size_bytes", size, datname=datname)

    lock_counts = {(d, m, str(g).lower()): c for d, m, g, c in locks}
    for datname in sorted({row[0] for row in databases}):
        for mode in LOCK_MODES:
            for granted in ("true", "false"):
                lock_counts.setdefault((datname, mode, granted), 0)
    for (datname, mode, granted), count in sorted(lock_counts.items()):
        out.add("pg_locks", count, datname=datname, mode=mode, granted=granted)

    for app, client, lag_bytes, replay_lag in replicas:
        out.add(
            "pg_replication_replica_lag_bytes", lag_bytes, application_name=app, client_addr=client
        )
        out.add(
            "pg_replication_replica_replay_lag_seconds",
            replay_lag if replay_lag is not None else 0.0,
            application_name=app,
            client_addr=client,
        )

    timed, requested, write_ms, sync_ms, buffers = checkpoints[0]
    out.add("pg_checkpoints_timed", timed)
    out.add("pg_checkpoints_requested", requested)
    out.add("pg_checkpoint_write_time_seconds", write_ms / 1000.0)
    out.add("pg_checkpoint_sync_time_seconds", sync_ms / 1000.0)
    out.add("pg_checkpoint_buffers_written", buffers)
