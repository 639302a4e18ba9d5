"""PgBouncer collector: the admin console's ``SHOW`` commands over one reused connection.

PgBouncer answers on a pseudo-database named ``pgbouncer`` that speaks only the simple
query protocol and one statement at a time, so a scrape is five short round trips on
the same connection (``SHOW VERSION``, ``CONFIG``, ``POOLS``, ``DATABASES``, ``STATS``).
Names and labels are pgbouncer_exporter's. A dead connection is dropped and the next
scrape reconnects.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import psycopg

from sloplane.exporters.families import Families
from sloplane.exporters.settings import Address, PgBouncerModule
from sloplane.exporters.target import Backend, ScrapeError

APPLICATION_NAME = "sloplane-exporter"

# SHOW POOLS column -> family suffix (pgbouncer_pools_<suffix>)
_POOLS = {
    "cl_active": "client_active_connections",
    "cl_waiting": "client_waiting_connections",
    "sv_active": "server_active_connections",
    "sv_idle": "server_idle_connections",
    "sv_used": "server_used_connections",
    "sv_tested": "server_testing_connections",
    "sv_login": "server_login_connections",
}
_DATABASES = {
    "pool_size": "pool_size",
    "current_connections": "current_connections",
    "max_connections": "max_connections",
    "reserve_pool": "reserve_pool",
    "paused": "paused",
    "disabled": "disabled",
}
# SHOW STATS column -> (family suffix, scale): times are in microseconds.
_STATS = {
    "total_xact_count": ("sql_transactions_pooled", 1.0),
    "total_query_count": ("queries_pooled", 1.0),
    "total_received": ("received_bytes", 1.0),
    "total_sent": ("sent_bytes", 1.0),
    "total_xact_time": ("server_in_transaction_seconds", 1e-6),
    "total_query_time": ("queries_duration_seconds", 1e-6),
    "total_wait_time": ("client_wait_seconds", 1e-6),
}
_CONFIG = {
    "max_client_conn": "pgbouncer_config_max_client_connections",
    "max_user_connections": "pgbouncer_config_max_user_connections",
}

_COMMANDS = ("VERSION", "CONFIG", "POOLS", "DATABASES", "STATS")

Rows = list[dict[str, Any]]


class PgBouncerBackend(Backend):
    kind = "pgbouncer"

    def __init__(self, module: PgBouncerModule, address: Address) -> None:
        self.module = module
        self.address = address
        self._conn: psycopg.Connection[Any] | None = None

    def collect(self, out: Families) -> None:
        conn = self._connection()
        try:
            shown = {what: _show(conn, what) for what in _COMMANDS}
        except psycopg.Error:
            if conn.broken or conn.closed:
                self._drop()
            raise
        _emit(out, shown)

    def close(self) -> None:
        self._drop()

    def classify(self, exc: Exception) -> ScrapeError:
        message = str(exc).strip().replace("\n", " ")
        if "not allowed" in message or "password authentication failed" in message:
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
            conn = psycopg.connect(
                host=self.address.host,
                port=self.address.port,
                dbname="pgbouncer",
                user=self.module.user,
                password=self.module.secret(),
                sslmode=self.module.sslmode,
                application_name=APPLICATION_NAME,
                connect_timeout=max(2, math.ceil(self.module.timeout_seconds)),
                autocommit=True,
                prepare_threshold=None,
            )
            self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def _show(conn: psycopg.Connection[Any], what: str) -> Rows:
    with conn.cursor() as cur:
        cur.execute(f"SHOW {what}".encode())
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _emit(out: Families, shown: dict[str, Rows]) -> None:
    for row in shown["VERSION"]:
        version = str(next(iter(row.values()), "")).removeprefix("PgBouncer ").strip()
        out.add("pgbouncer_version_info", 1, version=version)
    for row in shown["CONFIG"]:
        family = _CONFIG.get(str(row.get("key")))
        if family is not None:
            out.add(family, _number(row.get("value")))
    for row in shown["POOLS"]:
        labels = {"database": str(row.get("database")), "user": str(row.get("user"))}
        for column, suffix in _POOLS.items():
            out.add(f"pgbouncer_pools_{suffix}", _number(row.get(column)), **labels)
        wait = (_number(row.get("maxwait")) or 0.0) + (_number(row.get("maxwait_us")) or 0.0) / 1e6
        out.add("pgbouncer_pools_client_maxwait_seconds", wait, **labels)
    for row in shown["DATABASES"]:
        labels = {
            key: "" if row.get(key) is None else str(row.get(key))
            for key in ("name", "host", "port", "database", "force_user", "pool_mode")
        }
        for column, suffix in _DATABASES.items():
            out.add(f"pgbouncer_databases_{suffix}", _number(row.get(column)), **labels)
    for row in shown["STATS"]:
        database = str(row.get("database"))
        for column, (suffix, scale) in _STATS.items():
            value = _number(row.get(column))
            out.add(
                f"pgbouncer_stats_{suffix}",
                None if value is None else value * scale,
                database=database,
            )
