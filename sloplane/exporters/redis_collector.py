"""Redis collector: ``INFO ALL`` and ``SLOWLOG LEN`` in one pipelined round trip.

The client's pool is capped at one connection, which redis-py checks and
reconnects when it breaks, so a target never holds more than one connection.
redis-py's own retries are off: a failed scrape is reported as such, and the
next scrape reconnects.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sloplane.exporters.config import Address, RedisModule
from sloplane.exporters.families import Families
from sloplane.exporters.target import Backend, ScrapeError

CLIENT_NAME = "sloplane-exporter"

# INFO field -> (family, scale to base units)
_SIMPLE: dict[str, tuple[str, float]] = {
    "uptime_in_seconds": ("redis_uptime_seconds", 1.0),
    "connected_clients": ("redis_connected_clients", 1.0),
    "blocked_clients": ("redis_blocked_clients", 1.0),
    "maxclients": ("redis_max_clients", 1.0),
    "total_connections_received": ("redis_connections_received", 1.0),
    "rejected_connections": ("redis_rejected_connections", 1.0),
    "used_memory": ("redis_memory_used_bytes", 1.0),
    "used_memory_rss": ("redis_memory_used_rss_bytes", 1.0),
    "used_memory_peak": ("redis_memory_used_peak_bytes", 1.0),
    "maxmemory": ("redis_memory_max_bytes", 1.0),
    "mem_fragmentation_ratio": ("redis_mem_fragmentation_ratio", 1.0),
    "total_commands_processed": ("redis_commands_processed", 1.0),
    "keyspace_hits": ("redis_keyspace_hits", 1.0),
    "keyspace_misses": ("redis_keyspace_misses", 1.0),
    "evicted_keys": ("redis_evicted_keys", 1.0),
    "expired_keys": ("redis_expired_keys", 1.0),
    "total_net_input_bytes": ("redis_net_input_bytes", 1.0),
    "total_net_output_bytes": ("redis_net_output_bytes", 1.0),
    "connected_slaves": ("redis_connected_replicas", 1.0),
    "master_repl_offset": ("redis_replication_offset", 1.0),
    "master_last_io_seconds_ago": ("redis_master_last_io_seconds", 1.0),
}

_PERCENTILES = {"p50": "50", "p99": "99", "p99.9": "99.9"}


class RedisBackend(Backend):
    kind = "redis"

    def __init__(self, module: RedisModule, address: Address) -> None:
        self.module = module
        self.address = address
        self._client: redis.Redis | None = None

    def collect(self, out: Families) -> None:
        client = self._connection()
        try:
            pipe = client.pipeline(transaction=False)
            pipe.info("all")
            pipe.slowlog_len()
            info, slowlog_len = pipe.execute()
        except redis.ConnectionError:
            client.connection_pool.disconnect()
            raise
        _emit(out, info, slowlog_len)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
            client.connection_pool.disconnect()

    def classify(self, exc: Exception) -> ScrapeError:
        message = str(exc).strip()
        if isinstance(exc, redis.AuthenticationError) or (
            isinstance(exc, redis.ResponseError)
            and message.startswith(("NOAUTH", "WRONGPASS", "NOPERM"))
        ):
            return ScrapeError("auth", message)
        if isinstance(exc, redis.TimeoutError):
            return ScrapeError("timeout", message)
        if isinstance(exc, redis.ConnectionError):
            return ScrapeError("connection", message)
        if isinstance(exc, redis.RedisError):
            return ScrapeError("query", message)
        return super().classify(exc)

    def _connection(self) -> redis.Redis:
        if self._client is None:
            timeout = self.module.timeout_seconds
            pool = redis.ConnectionPool(
                connection_class=redis.SSLConnection if self.module.tls else redis.Connection,
                max_connections=1,
                host=self.address.host,
                port=self.address.port,
                username=self.module.username,
                password=self.module.secret(),
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                client_name=CLIENT_NAME,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=30,
            )
            self._client = redis.Redis(connection_pool=pool)
        return self._client


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _emit(out: Families, info: dict[str, Any], slowlog_len: int) -> None:
    out.add(
        "redis_server",
        1,
        version=str(info.get("redis_version", "")),
        role=str(info.get("role", "")),
        mode=str(info.get("redis_mode", "")),
    )
    for field, (family, scale) in _SIMPLE.items():
        value = _number(info.get(field))
        if value is not None:
            out.add(family, value * scale)
    if info.get("role") == "slave":
        out.add("redis_master_link_up", info.get("master_link_status") == "up")
    out.add("redis_slowlog_length", slowlog_len)

    if "db0" not in info:  # an empty database is absent from INFO; report it as 0 keys
        out.add("redis_db_keys", 0, db="db0")
        out.add("redis_db_keys_expiring", 0, db="db0")
    for key in sorted(info):
        value = info[key]
        if key.startswith("cmdstat_") and isinstance(value, dict):
            cmd = key.removeprefix("cmdstat_")
            out.add("redis_commands", _number(value.get("calls")), cmd=cmd)
            usec = _number(value.get("usec"))
            out.add(
                "redis_commands_duration_seconds", None if usec is None else usec / 1e6, cmd=cmd
            )
            out.add(
                "redis_commands_rejected_calls", _number(value.get("rejected_calls", 0)), cmd=cmd
            )
            out.add("redis_commands_failed_calls", _number(value.get("failed_calls", 0)), cmd=cmd)
        elif key.startswith("latency_percentiles_usec_") and isinstance(value, dict):
            cmd = key.removeprefix("latency_percentiles_usec_")
            for pct, percentile in _PERCENTILES.items():
                usec = _number(value.get(pct))
                if usec is not None:
                    out.add(
                        "redis_command_latency_seconds", usec / 1e6, cmd=cmd, percentile=percentile
                    )
        elif key.startswith("db") and key[2:].isdigit() and isinstance(value, dict):
            out.add("redis_db_keys", _number(value.get("keys")), db=key)
            out.add("redis_db_keys_expiring", _number(value.get("expires")), db=key)
