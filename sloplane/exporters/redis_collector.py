"""Redis collector: ``INFO ALL`` and ``SLOWLOG LEN`` in one pipelined round trip.

One connection per target (:mod:`.resp`), opened on the first scrape and after any
failure: a failed scrape is reported as such, never retried, and the next one reconnects.
"""

from __future__ import annotations

from typing import Any

from sloplane.exporters.families import Families
from sloplane.exporters.resp import (
    RedisAuthError,
    RedisConnection,
    RedisError,
    ResponseError,
    parse_info,
    parse_sentinel_table,
)
from sloplane.exporters.settings import Address, RedisModule
from sloplane.exporters.target import Backend, ScrapeError

CLIENT_NAME = "sloplane-exporter"

# INFO field -> (family, scale to base units); redis_exporter's names.
_SIMPLE: dict[str, tuple[str, float]] = {
    "uptime_in_seconds": ("redis_uptime_in_seconds", 1.0),
    "connected_clients": ("redis_connected_clients", 1.0),
    "blocked_clients": ("redis_blocked_clients", 1.0),
    "maxclients": ("redis_config_maxclients", 1.0),
    "total_connections_received": ("redis_connections_received", 1.0),
    "rejected_connections": ("redis_rejected_connections", 1.0),
    "used_memory": ("redis_memory_used_bytes", 1.0),
    "used_memory_rss": ("redis_memory_used_rss_bytes", 1.0),
    "used_memory_peak": ("redis_memory_used_peak_bytes", 1.0),
    "maxmemory": ("redis_memory_max_bytes", 1.0),
    "total_system_memory": ("redis_total_system_memory_bytes", 1.0),
    "mem_fragmentation_ratio": ("redis_mem_fragmentation_ratio", 1.0),
    "used_cpu_sys": ("redis_cpu_sys_seconds", 1.0),
    "used_cpu_user": ("redis_cpu_user_seconds", 1.0),
    "used_cpu_sys_children": ("redis_cpu_sys_children_seconds", 1.0),
    "used_cpu_user_children": ("redis_cpu_user_children_seconds", 1.0),
    "total_commands_processed": ("redis_commands_processed", 1.0),
    "keyspace_hits": ("redis_keyspace_hits", 1.0),
    "keyspace_misses": ("redis_keyspace_misses", 1.0),
    "evicted_keys": ("redis_evicted_keys", 1.0),
    "expired_keys": ("redis_expired_keys", 1.0),
    "total_net_input_bytes": ("redis_net_input_bytes", 1.0),
    "total_net_output_bytes": ("redis_net_output_bytes", 1.0),
    "rdb_bgsave_in_progress": ("redis_rdb_bgsave_in_progress", 1.0),
    "rdb_changes_since_last_save": ("redis_rdb_changes_since_last_save", 1.0),
    "rdb_last_save_time": ("redis_rdb_last_save_timestamp_seconds", 1.0),
    "aof_enabled": ("redis_aof_enabled", 1.0),
    "aof_rewrite_in_progress": ("redis_aof_rewrite_in_progress", 1.0),
    "connected_slaves": ("redis_connected_slaves", 1.0),
    "master_repl_offset": ("redis_master_repl_offset", 1.0),
    "sentinel_masters": ("redis_sentinel_masters", 1.0),
    "sentinel_tilt": ("redis_sentinel_tilt", 1.0),
}

# INFO fields that say "ok" or "err": reported as 1 or 0.
_STATUS: dict[str, str] = {
    "rdb_last_bgsave_status": "redis_rdb_last_bgsave_status",
    "aof_last_bgrewrite_status": "redis_aof_last_bgrewrite_status",
    "aof_last_write_status": "redis_aof_last_write_status",
}

# On a replica only.
_REPLICA: dict[str, str] = {
    "master_last_io_seconds_ago": "redis_master_last_io_seconds_ago",
    "master_link_down_since_seconds": "redis_master_link_down_since_seconds",
    "master_sync_in_progress": "redis_master_sync_in_progress",
    "slave_repl_offset": "redis_slave_repl_offset",
}

_PERCENTILES = {"p50": "50", "p99": "99", "p99.9": "99.9"}


class RedisBackend(Backend):
    kind = "redis"

    def __init__(self, module: RedisModule, address: Address) -> None:
        self.module = module
        self.address = address
        self._conn: RedisConnection | None = None

    def collect(self, out: Families) -> None:
        conn = self._connection()
        try:
            info_reply, slowlog_len = conn.pipeline(("INFO", "ALL"), ("SLOWLOG", "LEN"))
            if isinstance(info_reply, ResponseError):
                raise info_reply
            if not isinstance(info_reply, bytes):
                raise RedisError("INFO reply is not a bulk string")
            info = parse_info(info_reply)
            sentinel = _sentinel_state(conn) if info.get("redis_mode") == "sentinel" else None
        except (OSError, RedisError) as exc:
            if not isinstance(exc, ResponseError) or isinstance(exc, RedisAuthError):
                self.close()
            raise
        # A Sentinel has no slow log: its SLOWLOG LEN error just leaves the family out.
        _emit(out, info, slowlog_len if isinstance(slowlog_len, int) else None)
        if sentinel is not None:
            _emit_sentinel(out, *sentinel)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def classify(self, exc: Exception) -> ScrapeError:
        message = str(exc).strip()
        if isinstance(exc, RedisAuthError):
            return ScrapeError("auth", message)
        if isinstance(exc, TimeoutError):
            return ScrapeError("timeout", message or "timed out")
        if isinstance(exc, OSError):
            return ScrapeError("connection", message)
        if isinstance(exc, RedisError):
            return ScrapeError("query", message)
        return super().classify(exc)

    def _connection(self) -> RedisConnection:
        if self._conn is None:
            self._conn = RedisConnection(
                self.address.host,
                self.address.port,
                timeout=self.module.timeout_seconds,
                username=self.module.username,
                password=self.module.secret(),
                tls=self.module.tls,
                client_name=CLIENT_NAME,
            )
        return self._conn


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sentinel_state(conn: RedisConnection) -> tuple[dict[str, Any], list[Any]]:
    """SENTINEL MASTERS, then each master's replicas, sentinels and CKQUORUM in one round trip."""
    masters = {
        str(m.get("name")): m for m in parse_sentinel_table(conn.execute("SENTINEL", "MASTERS"))
    }
    commands: list[tuple[str, ...]] = []
    for name in sorted(masters):
        commands += [
            ("SENTINEL", "SLAVES", name),
            ("SENTINEL", "SENTINELS", name),
            ("SENTINEL", "CKQUORUM", name),
        ]
    replies: list[Any] = conn.pipeline(*commands) if commands else []
    for i in range(0, len(replies), 3):
        for j in (i, i + 1):
            if not isinstance(replies[j], ResponseError):
                replies[j] = parse_sentinel_table(replies[j])
    return masters, replies


def _emit_sentinel(out: Families, masters: dict[str, Any], replies: list[Any]) -> None:
    for i, name in enumerate(sorted(masters)):
        master = masters[name]
        replicas, sentinels, quorum = replies[3 * i : 3 * i + 3]
        labels = {"master_name": name, "master_address": f"{master.get('ip')}:{master.get('port')}"}
        status = "odown" if master.get("is_odown") else "sdown" if master.get("is_sdown") else "ok"
        out.add("redis_sentinel_master_status", 1, **labels, master_status=status)
        out.add("redis_sentinel_master_slaves", _number(master.get("num-slaves")), **labels)
        out.add("redis_sentinel_master_sentinels", _sentinels(master), **labels)
        out.add("redis_sentinel_master_quorum", _number(master.get("quorum")), **labels)
        if isinstance(replicas, list):
            out.add("redis_sentinel_master_ok_slaves", sum(map(_healthy, replicas)), **labels)
        if isinstance(sentinels, list):
            ok = 1 + sum(map(_healthy, sentinels))  # this Sentinel counts itself, as CKQUORUM does
            out.add("redis_sentinel_master_ok_sentinels", ok, **labels)
        text = quorum.decode() if isinstance(quorum, bytes) else str(quorum)
        out.add(
            "redis_sentinel_master_ckquorum_status",
            not isinstance(quorum, Exception),
            master_name=name,
            message=text,
        )


def _sentinels(master: dict[str, Any]) -> float | None:
    others = _number(master.get("num-other-sentinels"))
    return None if others is None else others + 1


def _healthy(peer: dict[str, Any]) -> bool:
    return not (peer.get("is_sdown") or peer.get("is_odown") or peer.get("is_disconnected"))


def _emit(out: Families, info: dict[str, Any], slowlog_len: int | None) -> None:
    out.add(
        "redis_instance",
        1,
        redis_version=str(info.get("redis_version", "")),
        role=str(info.get("role", "")),
        redis_mode=str(info.get("redis_mode", "")),
        os=str(info.get("os", "")),
        maxmemory_policy=str(info.get("maxmemory_policy", "")),
    )
    for field, (family, scale) in _SIMPLE.items():
        value = _number(info.get(field))
        if value is not None:
            out.add(family, value * scale)
    uptime, now_usec = _number(info.get("uptime_in_seconds")), _number(info.get("server_time_usec"))
    if uptime is not None and now_usec is not None:
        out.add("redis_start_time_seconds", round(now_usec / 1e6 - uptime))
    for field, family in _STATUS.items():
        if field in info:
            out.add(family, info[field] == "ok")
    if info.get("role") == "slave":
        _emit_replica_side(out, info)
    _emit_connected_replicas(out, info)
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


def _emit_replica_side(out: Families, info: dict[str, Any]) -> None:
    link = {
        "master_host": str(info.get("master_host", "")),
        "master_port": str(info.get("master_port", "")),
    }
    out.add("redis_master_link_up", info.get("master_link_status") == "up", **link)
    for field, family in _REPLICA.items():
        out.add(family, _number(info.get(field)))


def _emit_connected_replicas(out: Families, info: dict[str, Any]) -> None:
    """Each ``slaveN`` entry of a master's INFO: offset, how far behind, last ack."""
    master_offset = _number(info.get("master_repl_offset"))
    for key in sorted(info):
        value = info[key]
        if not (key.startswith("slave") and key[5:].isdigit() and isinstance(value, dict)):
            continue
        labels = {
            "slave_ip": str(value.get("ip", "")),
            "slave_port": str(value.get("port", "")),
            "slave_state": str(value.get("state", "")),
        }
        offset = _number(value.get("offset"))
        out.add("redis_connected_slave_offset_bytes", offset, **labels)
        if offset is not None and master_offset is not None:
            out.add(
                "redis_connected_slave_offset_lag_bytes", max(0.0, master_offset - offset), **labels
            )
        out.add("redis_connected_slave_lag_seconds", _number(value.get("lag")), **labels)
