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
import psycopg.sql

from sloplane.exporters.families import Families
from sloplane.exporters.metrics_catalog import PG_SETTINGS, PG_STATEMENTS_TOP, PG_TABLES_TOP
from sloplane.exporters.settings import Address, PostgresModule
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

# Each statement's rows come back in this order; _script() joins the ones that apply.
_QUERIES: dict[str, str] = {
    "overview": """
SELECT version(), current_setting('server_version'),
       extract(epoch FROM pg_postmaster_start_time())::float8,
       pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery()
                 OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))
       END::float8,
       CASE WHEN pg_is_in_recovery()
            THEN greatest(0, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()))
       END::float8,
       CASE WHEN pg_is_in_recovery()
            THEN (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming') END,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                            ELSE pg_current_wal_lsn() END, '0/0')::float8;""",
    "settings": """
SELECT name, setting::float8, coalesce(unit, '') FROM pg_settings
 WHERE name IN ("""
    + ", ".join(f"'{name}'" for name in PG_SETTINGS)
    + ");",
    "activity": """
SELECT coalesce(datname, ''), coalesce(state, 'disabled'), count(*),
       coalesce(max(extract(epoch FROM clock_timestamp() - xact_start))
                FILTER (WHERE pid <> pg_backend_pid()), 0)::float8
  FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2;""",
    "databases": """
SELECT datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned,
       tup_fetched, tup_inserted, tup_updated, tup_deleted, deadlocks, conflicts, temp_files,
       temp_bytes, blk_read_time, blk_write_time,
       age(d.datfrozenxid)::float8, mxid_age(d.datminmxid)::float8
  FROM pg_stat_database s JOIN pg_database d USING (datname)
 WHERE datname IS NOT NULL AND d.datallowconn;""",
    "locks": """
SELECT coalesce(d.datname, ''), lower(l.mode), l.granted, count(*)
  FROM pg_locks l LEFT JOIN pg_database d ON d.oid = l.database
 WHERE l.pid IS DISTINCT FROM pg_backend_pid() GROUP BY 1, 2, 3;""",
    "replicas": """
SELECT coalesce(r.application_name, ''), coalesce(host(r.client_addr), 'local'),
       coalesce(r.state, ''), coalesce(s.slot_name, ''),
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') END::float8,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) END::float8,
       coalesce(extract(epoch FROM r.replay_lag), 0)::float8
  FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid;""",
    "slots": """
SELECT slot_name, coalesce(database, ''), active, age(xmin)::float8,
       CASE WHEN pg_is_in_recovery() OR confirmed_flush_lsn IS NULL THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) END::float8,
       CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) END::float8
  FROM pg_replication_slots;""",
    "tables": f"""
SELECT current_database(), schemaname, relname, n_live_tup, n_dead_tup,
       coalesce(extract(epoch FROM last_vacuum), 0)::float8,
       coalesce(extract(epoch FROM last_autovacuum), 0)::float8,
       coalesce(extract(epoch FROM last_analyze), 0)::float8,
       coalesce(extract(epoch FROM last_autoanalyze), 0)::float8
  FROM pg_stat_user_tables ORDER BY n_dead_tup DESC, schemaname, relname
 LIMIT {PG_TABLES_TOP};""",
    "archiver": """
SELECT archived_count, failed_count,
       extract(epoch FROM now() - last_archived_time)::float8 FROM pg_stat_archiver;""",
    "checkpoints": """
SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time,
       buffers_checkpoint, buffers_clean, buffers_alloc, buffers_backend, buffers_backend_fsync
  FROM pg_stat_bgwriter;""",
}

# PostgreSQL 17 moved checkpoints to pg_stat_checkpointer and backend writes to pg_stat_io.
_CHECKPOINTS_17 = """
SELECT c.num_timed, c.num_requested, c.write_time, c.sync_time, c.buffers_written,
       b.buffers_clean, b.buffers_alloc, NULL::bigint, NULL::bigint
  FROM pg_stat_checkpointer c, pg_stat_bgwriter b;"""

# pg_stat_statements, when the extension is installed in the target's database: the top N
# statements by total time, and how many there are (so the cut is visible).
_STATEMENTS = f"""
SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), s.queryid::text, s.calls,
       s.total_exec_time / 1000.0, s.rows, s.{{read}} / 1000.0, s.{{write}} / 1000.0
  FROM {{schema}}.pg_stat_statements s
  LEFT JOIN pg_roles r ON r.oid = s.userid LEFT JOIN pg_database d ON d.oid = s.dbid
 WHERE s.queryid IS NOT NULL
 ORDER BY s.total_exec_time DESC LIMIT {PG_STATEMENTS_TOP};
SELECT count(*) FROM {{schema}}.pg_stat_statements;"""

# pg_database_size() walks every file of every database: the costliest statement by far,
# for a value that moves slowly. It runs at most every size_cache_seconds.
_SIZES = """
SELECT datname, pg_database_size(datname) FROM pg_database
 WHERE datallowconn AND has_database_privilege(datname, 'CONNECT');
"""

_DATABASE_COUNTERS = (
    "numbackends",
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
    "blk_read_time",
    "blk_write_time",
)

_BGWRITER = (
    "checkpoints_timed",
    "checkpoints_req",
    "checkpoint_write_time",
    "checkpoint_sync_time",
    "buffers_checkpoint",
    "buffers_clean",
    "buffers_alloc",
    "buffers_backend",
    "buffers_backend_fsync",
)

_AUTH_FAILURE = re.compile(
    r"authentication failed|role \S+ does not exist|no pg_hba\.conf entry|permission denied",
    re.IGNORECASE,
)


Rows = list[tuple[Any, ...]]


class PostgresBackend(Backend):
    kind = "postgres"

    def __init__(self, module: PostgresModule, address: Address) -> None:
        self.module = module
        self.address = address
        self._conn: psycopg.Connection[Any] | None = None
        self._script = ""
        self._keys: list[str] = []
        self._sizes: Rows = []
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
        self._script, self._keys = _script(conn)
        return conn

    def _query(self) -> dict[str, Rows]:
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
        return dict(zip(self._keys, results, strict=True))

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _script(conn: psycopg.Connection[Any]) -> tuple[str, list[str]]:
    """The statements this server answers, in one multi-statement script, and their keys.

    Read once per connection: the checkpoint view moved in PostgreSQL 17, and
    pg_stat_statements is there only where the extension was created.
    """
    queries = dict(_QUERIES)
    if conn.info.server_version >= 170000:
        queries["checkpoints"] = _CHECKPOINTS_17
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_stat_statements'"
    ).fetchone()
    keys = list(queries)
    script = "".join(queries.values())
    if row is not None:
        schema = psycopg.sql.Identifier(row[0]).as_string(conn)
        old = conn.info.server_version < 170000
        script += _STATEMENTS.format(
            schema=schema,
            read="blk_read_time" if old else "shared_blk_read_time",
            write="blk_write_time" if old else "shared_blk_write_time",
        )
        keys += ["statements", "statements_count"]
    return script, keys


_UNIT_SCALE = {"B": 1.0, "kB": 1024.0, "8kB": 8192.0, "MB": 1024.0**2, "GB": 1024.0**3}
_TIME_SCALE = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _emit(out: Families, results: dict[str, Rows], sizes: Rows) -> None:
    _emit_overview(out, results["overview"][0])
    _emit_settings(out, results["settings"])
    _emit_activity(out, results["activity"])
    for datname, *counters, frozen, minmxid in results["databases"]:
        for column, value in zip(_DATABASE_COUNTERS, counters, strict=True):
            out.add(f"pg_stat_database_{column}", value, datname=datname)
        out.add("pg_database_wraparound_age_datfrozenxid_seconds", frozen, datname=datname)
        out.add("pg_database_wraparound_age_datminmxid_seconds", minmxid, datname=datname)
    for datname, size in sorted(sizes):
        out.add("pg_database_size_bytes", size, datname=datname)
    _emit_locks(out, results["locks"], sorted({row[0] for row in results["databases"]}))
    in_recovery = bool(results["overview"][0][3])
    _emit_replication(out, results["replicas"], results["slots"], in_recovery)
    _emit_tables(out, results["tables"])
    archived, failed, age = results["archiver"][0]
    out.add("pg_stat_archiver_archived_count", archived)
    out.add("pg_stat_archiver_failed_count", failed)
    out.add("pg_stat_archiver_last_archive_age", age)
    for column, value in zip(_BGWRITER, results["checkpoints"][0], strict=True):
        out.add(f"pg_stat_bgwriter_{column}", value)
    if "statements" in results:
        _emit_statements(out, results["statements"], results["statements_count"][0][0])


def _emit_settings(out: Families, rows: Rows) -> None:
    """pg_settings in base units, as postgres_exporter names them (``_bytes``, ``_seconds``)."""
    for name, setting, unit in rows:
        scale = _UNIT_SCALE.get(unit) or _TIME_SCALE.get(unit) or 1.0
        out.add(f"pg_settings_{name}{PG_SETTINGS[name]}", setting * scale)


def _emit_overview(out: Families, row: tuple[Any, ...]) -> None:
    version, setting, started, in_recovery, lag, lag_bytes, receivers, position = row
    numbers = re.findall(r"\d+", str(setting).split(" ")[0])[:3]
    short = ".".join([*numbers, *["0"] * (3 - len(numbers))])
    out.add("pg_static", 1, version=str(version), short_version=short)
    out.add("pg_postmaster_start_time_seconds", started)
    out.add("pg_replication_is_replica", bool(in_recovery))
    out.add("pg_replication_lag_seconds", lag)
    out.add("pg_replication_lag_bytes", lag_bytes)
    out.add("pg_xlog_position_bytes", position)
    if receivers is not None:
        out.add("pg_replication_wal_receiver_streaming", receivers > 0)


def _emit_activity(out: Families, rows: Rows) -> None:
    counts: dict[tuple[str, str], tuple[int, float]] = {}
    for datname, state, count, longest in rows:
        counts[(datname, state)] = (count, longest)
    for datname in sorted({d for d, _ in counts}):
        for state in sorted({*STATES, *(s for d, s in counts if d == datname)}):
            count, longest = counts.get((datname, state), (0, 0.0))
            out.add("pg_stat_activity_count", count, datname=datname, state=state)
            out.add("pg_stat_activity_max_tx_duration", longest, datname=datname, state=state)


def _emit_locks(out: Families, rows: Rows, databases: list[str]) -> None:
    held: dict[tuple[str, str], int] = {}
    waiting: dict[tuple[str, str], int] = {}
    for datname, mode, granted, count in rows:
        held[(datname, mode)] = held.get((datname, mode), 0) + count
        if not granted:
            waiting[(datname, mode)] = waiting.get((datname, mode), 0) + count
    for datname in databases:
        for mode in LOCK_MODES:
            held.setdefault((datname, mode.lower()), 0)
    for (datname, mode), count in sorted(held.items()):
        out.add("pg_locks_count", count, datname=datname, mode=mode)
        out.add("pg_locks_waiting", waiting.get((datname, mode), 0), datname=datname, mode=mode)


def _emit_replication(out: Families, replicas: Rows, slots: Rows, in_recovery: bool) -> None:
    if not in_recovery:
        out.add("pg_replication_connected_replicas", len(replicas))
    for app, client, state, slot, current, diff, replay_lag in replicas:
        labels = {"application_name": app, "client_addr": client, "state": state, "slot_name": slot}
        out.add("pg_stat_replication_pg_current_wal_lsn_bytes", current, **labels)
        out.add("pg_stat_replication_pg_wal_lsn_diff", diff, **labels)
        out.add("pg_stat_replication_replay_lag_seconds", replay_lag, **labels)
    for name, database, active, xmin_age, flush_diff, retained in slots:
        labels = {"slot_name": name, "database": database}
        out.add("pg_replication_slots_active", bool(active), **labels)
        out.add("pg_replication_slots_xmin_age", xmin_age, **labels)
        out.add("pg_replication_slots_pg_wal_lsn_diff", flush_diff, **labels)
        out.add("pg_replication_slots_retained_wal_bytes", retained, **labels)


def _emit_tables(out: Families, rows: Rows) -> None:
    columns = (
        "n_live_tup",
        "n_dead_tup",
        "last_vacuum",
        "last_autovacuum",
        "last_analyze",
        "last_autoanalyze",
    )
    for datname, schema, table, *values in rows:
        labels = {"datname": datname, "schemaname": schema, "relname": table}
        for column, value in zip(columns, values, strict=True):
            out.add(f"pg_stat_user_tables_{column}", value, **labels)


def _emit_statements(out: Families, rows: Rows, tracked: int) -> None:
    out.add("pg_stat_statements_tracked", tracked)
    for user, datname, queryid, calls, seconds, nrows, read_s, write_s in rows:
        labels = {"user": user, "datname": datname, "queryid": queryid}
        out.add("pg_stat_statements_calls", calls, **labels)
        out.add("pg_stat_statements_seconds", seconds, **labels)
        out.add("pg_stat_statements_rows", nrows, **labels)
        out.add("pg_stat_statements_block_read_seconds", read_s, **labels)
        out.add("pg_stat_statements_block_write_seconds", write_s, **labels)
